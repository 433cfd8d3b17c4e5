# SageMaker model, endpoint config, endpoint and autoscaling.

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
}

run "no_endpoint_before_a_model_exists" {
  command = plan

  assert {
    condition     = length(module.endpoint) == 0 && output.endpoint_deployed == false && output.model_name == null
    error_message = "model_data_url = null must create no SageMaker model, endpoint or autoscaling."
  }

  assert {
    condition     = output.endpoint_name == "dog-breeds-endpoint"
    error_message = "The endpoint name must be deterministic (<project_name>-endpoint) so the Lambda knows it up front."
  }
}

run "endpoint_with_first_model" {
  command = plan

  variables {
    model_data_url = "s3://dog-breeds-123456789012-us-east-1/training-jobs/job-1/output/model.tar.gz"
  }

  assert {
    condition     = output.endpoint_deployed && can(regex("^dog-breeds-endpoint-[0-9a-f]{12}$", output.model_name))
    error_message = "The model name must be the endpoint name plus a 12-hex-digit hash of model and image."
  }

  assert {
    condition     = output.inference_image_uri == "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312"
    error_message = "The default image must be the PyTorch 2.6.0 CPU py312 inference DLC of the region."
  }

  assert {
    condition     = module.endpoint[0].network_isolation == true
    error_message = "The model must run with network isolation by default (the archive carries its wheels; the Lambda downloads URLs)."
  }

  assert {
    condition     = module.endpoint[0].model_environment["DOGOPS_NETWORK_ISOLATION"] == "true"
    error_message = "The handler must be told the container is isolated, so {\"url\": ...} gets a clear 400."
  }
}

run "network_isolation_can_be_turned_off" {
  command = plan

  variables {
    model_data_url             = "s3://dog-breeds-123456789012-us-east-1/training-jobs/job-1/output/model.tar.gz"
    endpoint_network_isolation = false
  }

  assert {
    condition = (module.endpoint[0].network_isolation == false
    && module.endpoint[0].model_environment["DOGOPS_NETWORK_ISOLATION"] == "false")
    error_message = "endpoint_network_isolation = false must reach the model and its container environment."
  }
}

run "new_model_gets_a_new_model_name" {
  command = plan

  variables {
    model_data_url = "s3://dog-breeds-123456789012-us-east-1/models/ec2/run-2/model.tar.gz"
  }

  assert {
    condition     = output.model_name != run.endpoint_with_first_model.model_name
    error_message = "A new model archive must produce a new model name (create-before-destroy rollout)."
  }
}

run "model_endpoint_config_and_autoscaling" {
  command = plan

  module {
    source = "./modules/endpoint"
  }

  variables {
    endpoint_name                   = "dog-breeds-endpoint"
    model_data_url                  = "s3://dog-breeds-123456789012-us-east-1/training-jobs/job-1/output/model.tar.gz"
    inference_image_uri             = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312"
    execution_role_arn              = "arn:aws:iam::123456789012:role/dog-breeds-sagemaker-execution"
    region                          = "us-east-1"
    min_capacity                    = 2
    max_capacity                    = 5
    target_invocations_per_instance = 120
    scale_in_cooldown               = 600
    scale_out_cooldown              = 30
  }

  assert {
    condition = aws_sagemaker_model.this.primary_container[0].environment == tomap({
      SAGEMAKER_PROGRAM             = "inference.py"
      SAGEMAKER_SUBMIT_DIRECTORY    = "/opt/ml/model/code"
      SAGEMAKER_REGION              = "us-east-1"
      SAGEMAKER_CONTAINER_LOG_LEVEL = "20"
      MODEL_VERSION                 = aws_sagemaker_model.this.name
      # defaults: one worker, no TorchServe batching, ONNX Runtime on every core
      SAGEMAKER_MODEL_SERVER_WORKERS = "1"
      SAGEMAKER_TS_MIN_WORKERS       = "1"
      SAGEMAKER_TS_MAX_WORKERS       = "1"
      SAGEMAKER_TS_BATCH_SIZE        = "1"
      SAGEMAKER_TS_MAX_BATCH_DELAY   = "20"
      DOGOPS_ORT_THREADS             = "0"
      DOGOPS_NETWORK_ISOLATION       = "true"
    })
    error_message = "The serving container must load code/inference.py from the model archive, with the default model-server settings."
  }

  assert {
    condition     = aws_sagemaker_model.this.enable_network_isolation == true
    error_message = "The endpoint module must isolate the model container by default."
  }

  assert {
    condition     = aws_sagemaker_model.this.primary_container[0].model_data_url == var.model_data_url && aws_sagemaker_model.this.execution_role_arn == var.execution_role_arn
    error_message = "The model must serve model_data_url with the execution role."
  }

  assert {
    condition     = aws_sagemaker_endpoint_configuration.this.name_prefix == "dog-breeds-endpoint-" && aws_sagemaker_endpoint_configuration.this.production_variants[0].initial_instance_count == 2 && aws_sagemaker_endpoint_configuration.this.production_variants[0].instance_type == "ml.m5.large"
    error_message = "The endpoint config must use a name prefix and start at min_capacity instances."
  }

  assert {
    condition     = aws_sagemaker_endpoint.this.name == "dog-breeds-endpoint"
    error_message = "The endpoint must carry the deterministic name."
  }

  assert {
    condition     = aws_appautoscaling_target.variant.min_capacity == 2 && aws_appautoscaling_target.variant.max_capacity == 5
    error_message = "Autoscaling bounds must follow min_capacity/max_capacity."
  }

  assert {
    condition     = aws_appautoscaling_target.variant.resource_id == "endpoint/dog-breeds-endpoint/variant/AllTraffic" && aws_appautoscaling_target.variant.scalable_dimension == "sagemaker:variant:DesiredInstanceCount" && aws_appautoscaling_target.variant.service_namespace == "sagemaker"
    error_message = "The scalable target must be the endpoint variant's instance count."
  }

  assert {
    condition     = aws_appautoscaling_policy.invocations.policy_type == "TargetTrackingScaling" && aws_appautoscaling_policy.invocations.target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type == "SageMakerVariantInvocationsPerInstance"
    error_message = "Scaling must track SageMakerVariantInvocationsPerInstance."
  }

  assert {
    condition = (
      aws_appautoscaling_policy.invocations.target_tracking_scaling_policy_configuration[0].target_value == 120 &&
      aws_appautoscaling_policy.invocations.target_tracking_scaling_policy_configuration[0].scale_in_cooldown == 600 &&
      aws_appautoscaling_policy.invocations.target_tracking_scaling_policy_configuration[0].scale_out_cooldown == 30
    )
    error_message = "Target value and cooldowns must come from the variables."
  }
}

run "model_server_settings_reach_the_container" {
  command = plan

  variables {
    model_data_url        = "s3://dog-breeds-123456789012-us-east-1/training-jobs/job-1/output/model.tar.gz"
    endpoint_model_server = { workers = 2, batch_size = 8, max_batch_delay_ms = 10, ort_threads = 1 }
  }

  assert {
    condition = alltrue([
      for name, value in {
        SAGEMAKER_MODEL_SERVER_WORKERS = "2"
        SAGEMAKER_TS_MIN_WORKERS       = "2" # TorchServe's own worker count once SAGEMAKER_TS_* is set
        SAGEMAKER_TS_MAX_WORKERS       = "2"
        SAGEMAKER_TS_BATCH_SIZE        = "8"
        SAGEMAKER_TS_MAX_BATCH_DELAY   = "10"
        DOGOPS_ORT_THREADS             = "1"
      } : module.endpoint[0].model_environment[name] == value
    ])
    error_message = "Workers, batch size, batch delay and ONNX Runtime threads must reach the model's environment."
  }
}

run "model_server_partial_settings_keep_the_other_defaults" {
  command = plan

  variables {
    model_data_url        = "s3://dog-breeds-123456789012-us-east-1/training-jobs/job-1/output/model.tar.gz"
    endpoint_model_server = { workers = 3 }
  }

  assert {
    condition     = module.endpoint[0].model_environment["SAGEMAKER_TS_MAX_WORKERS"] == "3" && module.endpoint[0].model_environment["SAGEMAKER_TS_BATCH_SIZE"] == "1" && module.endpoint[0].model_environment["DOGOPS_ORT_THREADS"] == "0"
    error_message = "Unset model-server settings must keep their defaults."
  }
}

run "model_server_batch_size_zero_is_refused" {
  command = plan

  variables {
    model_data_url        = "s3://dog-breeds-123456789012-us-east-1/training-jobs/job-1/output/model.tar.gz"
    endpoint_model_server = { batch_size = 0 }
  }

  expect_failures = [var.endpoint_model_server]
}

run "model_server_fractional_workers_are_refused" {
  command = plan

  variables {
    model_data_url        = "s3://dog-breeds-123456789012-us-east-1/training-jobs/job-1/output/model.tar.gz"
    endpoint_model_server = { workers = 1.5 }
  }

  expect_failures = [var.endpoint_model_server]
}
