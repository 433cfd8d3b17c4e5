# Model -> endpoint config -> endpoint, plus target-tracking autoscaling on the variant.
#
# Zero-downtime rollout: the model name carries a hash of (model archive, image), so a new model
# is a new model resource; the endpoint config uses name_prefix + create_before_destroy, so the new
# config exists before the endpoint is switched to it (an in-place UpdateEndpoint, which SageMaker
# performs blue/green) and the old config and model are deleted only afterwards.
#
# Guarded rollout: with deployment_guardrails the update is blue/green with canary or linear
# traffic shifting and rolls back on its own when a rollback alarm fires (docs/terraform.md,
# "Model rollouts"). The tooling (dogops/release.py) detaches the model/config being replaced from
# the state during a rollout so a rolled-back update never loses the config the endpoint uses.

locals {
  variant_name = "AllTraffic"
  # A model created outside the SageMaker SDK must name its handler module itself; the archive
  # carries it under code/ (docs/DESIGN.md, "Model artifact").
  container_environment = {
    SAGEMAKER_PROGRAM             = "inference.py"
    SAGEMAKER_SUBMIT_DIRECTORY    = "/opt/ml/model/code"
    SAGEMAKER_REGION              = var.region
    SAGEMAKER_CONTAINER_LOG_LEVEL = "20"
    # Model server (sagemaker-inference / sagemaker-pytorch-inference toolkits): see the
    # model_server variable for why batch_size defaults to 1.
    SAGEMAKER_MODEL_SERVER_WORKERS = tostring(var.model_server.workers)
    SAGEMAKER_TS_MIN_WORKERS       = tostring(var.model_server.workers)
    SAGEMAKER_TS_MAX_WORKERS       = tostring(var.model_server.workers)
    SAGEMAKER_TS_BATCH_SIZE        = tostring(var.model_server.batch_size)
    SAGEMAKER_TS_MAX_BATCH_DELAY   = tostring(var.model_server.max_batch_delay_ms)
    DOGOPS_ORT_THREADS             = tostring(var.model_server.ort_threads)
    # Tells the handler the container has no network, so it answers {"url": ...} with a clear
    # 400 (the Lambda front door downloads URLs) instead of a connection timeout.
    DOGOPS_NETWORK_ISOLATION = tostring(var.network_isolation)
  }
  # Everything that forces a new model is in the name: a replacement with create-before-destroy
  # must never reuse the old name (CreateModel would fail: the old model still exists).
  model_hash = substr(sha256(join("|", [var.model_data_url, var.inference_image_uri,
  jsonencode(local.container_environment)])), 0, 12)
  # SageMaker names are at most 63 characters.
  model_name = "${substr(var.endpoint_name, 0, 63 - 13)}-${local.model_hash}"

  # A rollout keeps the fleet size autoscaling reached (the tooling passes the live count); a new
  # endpoint starts at min_capacity. UpdateEndpoint would otherwise reset it to this number.
  initial_instance_count = (var.initial_instance_count == null ? var.min_capacity :
  min(max(var.initial_instance_count, var.min_capacity), var.max_capacity))

  traffic_step = { type = "CAPACITY_PERCENT", value = var.rollout_step_percent }
}

resource "aws_sagemaker_model" "this" {
  name               = local.model_name
  execution_role_arn = var.execution_role_arn
  # No outbound network from the serving container: code/requirements.txt installs from the
  # wheels inside model.tar.gz and {"url": ...} is downloaded by the Lambda (docs/security.md).
  enable_network_isolation = var.network_isolation

  primary_container {
    image          = var.inference_image_uri
    model_data_url = var.model_data_url
    # MODEL_VERSION: the serving handler echoes it, so a deploy can check who answers
    # (dogops/release.py).
    environment = merge(local.container_environment, { MODEL_VERSION = local.model_name })
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_endpoint_configuration" "this" {
  #checkov:skip=CKV_AWS_98:A customer-managed key for the ML storage volume and captured data is an option (root variable kms_key_arn, default null = the SageMaker-managed key); see docs/security.md.
  # name_prefix + a 26-character unique suffix must fit SageMaker's 63-character limit.
  name_prefix = "${substr(var.endpoint_name, 0, 36)}-"
  # Customer-managed key for the instances' ML storage volumes (null: SageMaker-managed key).
  kms_key_arn = var.kms_key_arn

  production_variants {
    variant_name           = local.variant_name
    model_name             = aws_sagemaker_model.this.name
    instance_type          = var.instance_type
    initial_instance_count = local.initial_instance_count
  }

  dynamic "data_capture_config" {
    for_each = var.data_capture_s3_uri == null ? [] : [var.data_capture_s3_uri]
    content {
      enable_capture              = true
      initial_sampling_percentage = var.data_capture_sampling_percent
      destination_s3_uri          = data_capture_config.value
      kms_key_id                  = var.kms_key_arn

      capture_options {
        capture_mode = "Input"
      }
      capture_options {
        capture_mode = "Output"
      }
      capture_content_type_header {
        json_content_types = ["application/json"]
      }
    }
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_endpoint" "this" {
  name                 = var.endpoint_name
  endpoint_config_name = aws_sagemaker_endpoint_configuration.this.name

  dynamic "deployment_config" {
    for_each = var.deployment_guardrails ? [1] : []
    content {
      blue_green_update_policy {
        termination_wait_in_seconds          = var.rollout_termination_wait_s
        maximum_execution_timeout_in_seconds = var.rollout_max_execution_s

        traffic_routing_configuration {
          type                     = upper(var.rollout_traffic)
          wait_interval_in_seconds = var.rollout_wait_s

          dynamic "canary_size" {
            for_each = var.rollout_traffic == "canary" ? [local.traffic_step] : []
            content {
              type  = canary_size.value.type
              value = canary_size.value.value
            }
          }
          dynamic "linear_step_size" {
            for_each = var.rollout_traffic == "linear" ? [local.traffic_step] : []
            content {
              type  = linear_step_size.value.type
              value = linear_step_size.value.value
            }
          }
        }
      }

      dynamic "auto_rollback_configuration" {
        for_each = length(var.rollback_alarm_names) > 0 ? [1] : []
        content {
          dynamic "alarms" {
            for_each = toset(var.rollback_alarm_names)
            content {
              alarm_name = alarms.value
            }
          }
        }
      }
    }
  }
}

resource "aws_appautoscaling_target" "variant" {
  # No role_arn: Application Auto Scaling uses its service-linked role and ignores a given one,
  # which would leave a permanent diff in every plan.
  service_namespace  = "sagemaker"
  resource_id        = "endpoint/${aws_sagemaker_endpoint.this.name}/variant/${local.variant_name}"
  scalable_dimension = "sagemaker:variant:DesiredInstanceCount"
  min_capacity       = var.min_capacity
  max_capacity       = var.max_capacity
}

resource "aws_appautoscaling_policy" "invocations" {
  name               = "${var.endpoint_name}-invocations-per-instance"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.variant.service_namespace
  resource_id        = aws_appautoscaling_target.variant.resource_id
  scalable_dimension = aws_appautoscaling_target.variant.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.target_invocations_per_instance
    scale_in_cooldown  = var.scale_in_cooldown
    scale_out_cooldown = var.scale_out_cooldown

    predefined_metric_specification {
      predefined_metric_type = "SageMakerVariantInvocationsPerInstance"
    }
  }
}
