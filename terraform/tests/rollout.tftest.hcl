# Guarded model rollouts: blue/green traffic shifting, alarm rollback, fleet size, data capture.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
}

variables {
  lambda_zip_path = "tests/fixtures/lambda_function.zip"
  model_data_url  = "s3://dog-breeds-123456789012-us-east-1/training-jobs/job-1/output/model.tar.gz"
}

run "canary_with_alarm_rollback_by_default" {
  command = plan

  assert {
    condition = (
      module.endpoint[0].deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].type == "CANARY" &&
      module.endpoint[0].deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].canary_size[0].type == "CAPACITY_PERCENT" &&
      module.endpoint[0].deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].canary_size[0].value == 10 &&
      module.endpoint[0].deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].wait_interval_in_seconds == 300 &&
      module.endpoint[0].deployment_config[0].blue_green_update_policy[0].termination_wait_in_seconds == 300 &&
      module.endpoint[0].deployment_config[0].blue_green_update_policy[0].maximum_execution_timeout_in_seconds == 3600
    )
    error_message = "By default a rollout is a 10% canary baked 5 minutes, then all traffic baked 5 minutes."
  }

  assert {
    condition     = toset([for a in module.endpoint[0].deployment_config[0].auto_rollback_configuration[0].alarms : a.alarm_name]) == toset(["dog-breeds-endpoint-5xx-errors", "dog-breeds-endpoint-model-latency-p99"])
    error_message = "The rollout must roll back on the endpoint 5XX and p99 latency alarms."
  }

  assert {
    condition     = output.rollback_alarm_names == tolist(["dog-breeds-endpoint-5xx-errors", "dog-breeds-endpoint-model-latency-p99"])
    error_message = "The root must expose the rollback alarms."
  }
}

run "linear_steps" {
  command = plan

  variables {
    rollout_traffic      = "linear"
    rollout_step_percent = 25
    rollout_wait_s       = 60
  }

  assert {
    condition = (
      module.endpoint[0].deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].type == "LINEAR" &&
      module.endpoint[0].deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].linear_step_size[0].value == 25 &&
      length(module.endpoint[0].deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].canary_size) == 0 &&
      module.endpoint[0].deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].wait_interval_in_seconds == 60
    )
    error_message = "Linear rollouts must step by rollout_step_percent."
  }
}

run "guardrails_off" {
  command = plan

  variables {
    deployment_guardrails = false
  }

  assert {
    condition     = length(module.endpoint[0].deployment_config) == 0
    error_message = "Without guardrails no deployment_config is sent (SageMaker's all-at-once default)."
  }
}

run "no_monitoring_no_rollback_alarms" {
  command = plan

  variables {
    enable_monitoring = false
  }

  assert {
    condition     = length(module.monitoring) == 0 && length(module.endpoint[0].deployment_config[0].auto_rollback_configuration) == 0
    error_message = "Without monitoring there are no alarms and no alarm rollback."
  }
}

run "rollout_keeps_the_live_fleet_size" {
  command = plan

  variables {
    min_capacity                    = 1
    max_capacity                    = 4
    endpoint_initial_instance_count = 3
  }

  assert {
    condition     = module.endpoint[0].endpoint_config_initial_instance_count == 3
    error_message = "A rollout must start the new config at the live instance count."
  }
}

run "live_fleet_size_is_clamped_to_the_autoscaling_bounds" {
  command = plan

  variables {
    min_capacity                    = 2
    max_capacity                    = 4
    endpoint_initial_instance_count = 9
  }

  assert {
    condition     = module.endpoint[0].endpoint_config_initial_instance_count == 4
    error_message = "The initial count must stay within min_capacity..max_capacity."
  }
}

run "new_endpoint_starts_at_min_capacity" {
  command = plan

  variables {
    min_capacity = 2
    max_capacity = 4
  }

  assert {
    condition     = module.endpoint[0].endpoint_config_initial_instance_count == 2
    error_message = "Without a live fleet the endpoint starts at min_capacity."
  }
}

run "data_capture_off_by_default" {
  command = plan

  assert {
    condition     = module.endpoint[0].data_capture_enabled == false
    error_message = "Data capture must be off by default."
  }

  assert {
    condition     = !strcontains(module.iam.policy_documents.serving, "data-capture")
    error_message = "Without data capture the serving role must not write to data-capture/."
  }
}

run "data_capture_on" {
  command = plan

  variables {
    data_capture_sampling_percent = 5
  }

  assert {
    condition     = module.endpoint[0].data_capture_enabled && module.endpoint[0].data_capture_destination == "s3://dog-breeds-123456789012-us-east-1/data-capture/" && module.endpoint[0].data_capture_sampling_percent == 5
    error_message = "Data capture must sample the given percent into s3://<bucket>/data-capture/."
  }

  assert {
    condition     = strcontains(module.iam.policy_documents.serving, "arn:aws:s3:::dog-breeds-123456789012-us-east-1/data-capture/*")
    error_message = "With data capture the serving role may write exactly data-capture/*."
  }
}
