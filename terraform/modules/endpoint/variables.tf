variable "endpoint_name" {
  description = "Name of the SageMaker endpoint (deterministic, so the Lambda knows it before the endpoint exists)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint_name))
    error_message = "endpoint_name must be 1-63 letters, digits and '-', not starting or ending with '-'."
  }
}

variable "model_data_url" {
  description = "S3 URI of the model.tar.gz to serve (training job output or models/ec2/<run>/model.tar.gz)."
  type        = string

  validation {
    condition     = can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+\\.tar\\.gz$", var.model_data_url))
    error_message = "model_data_url must be an S3 URI of a model archive, like s3://my-bucket/training-jobs/<job>/output/model.tar.gz."
  }
}

variable "inference_image_uri" {
  description = "ECR URI of the PyTorch inference container."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[a-z0-9._/-]+[:@].+$", var.inference_image_uri))
    error_message = "inference_image_uri must be an ECR image URI like 763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312."
  }
}

variable "execution_role_arn" {
  description = "ARN of the SageMaker execution role the model runs as."
  type        = string

  validation {
    condition     = can(regex("^arn:[a-z-]+:iam::[0-9]{12}:role/.+$", var.execution_role_arn))
    error_message = "execution_role_arn must be an IAM role ARN."
  }
}

variable "region" {
  description = "AWS region (passed to the serving container as SAGEMAKER_REGION)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like us-east-1."
  }
}

variable "instance_type" {
  description = "SageMaker hosting instance type, e.g. ml.m5.large (CPU image) or ml.g4dn.xlarge (GPU image)."
  type        = string
  default     = "ml.m5.large"

  validation {
    condition     = can(regex("^ml\\.[a-z][a-z0-9-]*\\.([0-9]*xlarge|large|medium|small)$", var.instance_type))
    error_message = "instance_type must be a SageMaker instance type such as ml.m5.large or ml.g4dn.xlarge."
  }
}

variable "min_capacity" {
  description = "Minimum number of endpoint instances (also the initial count)."
  type        = number
  default     = 1

  validation {
    condition     = var.min_capacity >= 1 && floor(var.min_capacity) == var.min_capacity && var.min_capacity <= var.max_capacity
    error_message = "min_capacity must be a whole number, at least 1 and not above max_capacity."
  }
}

variable "max_capacity" {
  description = "Maximum number of endpoint instances autoscaling may reach."
  type        = number
  default     = 3

  validation {
    condition     = floor(var.max_capacity) == var.max_capacity && var.max_capacity >= 1 && var.max_capacity <= 100
    error_message = "max_capacity must be a whole number from 1 to 100."
  }
}

variable "target_invocations_per_instance" {
  description = "Target value of SageMakerVariantInvocationsPerInstance (invocations per instance per minute)."
  type        = number
  default     = 70

  validation {
    condition     = var.target_invocations_per_instance > 0
    error_message = "target_invocations_per_instance must be greater than 0."
  }
}

variable "scale_in_cooldown" {
  description = "Seconds after a scale-in before another scale-in may start."
  type        = number
  default     = 300

  validation {
    condition     = var.scale_in_cooldown >= 0 && floor(var.scale_in_cooldown) == var.scale_in_cooldown
    error_message = "scale_in_cooldown must be a whole number of seconds, 0 or more."
  }
}

variable "scale_out_cooldown" {
  description = "Seconds after a scale-out before another scale-out may start."
  type        = number
  default     = 60

  validation {
    condition     = var.scale_out_cooldown >= 0 && floor(var.scale_out_cooldown) == var.scale_out_cooldown
    error_message = "scale_out_cooldown must be a whole number of seconds, 0 or more."
  }
}

variable "initial_instance_count" {
  description = "Instances for a new endpoint config: the live fleet size during a rollout (filled by the tooling); null = min_capacity. Clamped to [min_capacity, max_capacity]."
  type        = number
  default     = null

  validation {
    condition     = var.initial_instance_count == null || try(var.initial_instance_count >= 1 && floor(var.initial_instance_count) == var.initial_instance_count, false)
    error_message = "initial_instance_count must be null or a whole number of at least 1."
  }
}

variable "deployment_guardrails" {
  description = "Blue/green rollout with traffic shifting and alarm rollback (deployment_config). false = SageMaker's default all-at-once blue/green with no baking period."
  type        = bool
  default     = true
}

variable "rollout_traffic" {
  description = "Traffic shifting: canary (rollout_step_percent, then the rest), linear (rollout_step_percent per step) or all_at_once."
  type        = string
  default     = "canary"

  validation {
    condition     = contains(["canary", "linear", "all_at_once"], var.rollout_traffic)
    error_message = "rollout_traffic must be canary, linear or all_at_once."
  }
}

variable "rollout_step_percent" {
  description = "Capacity percent of the canary, or of each linear step."
  type        = number
  default     = 10

  validation {
    condition     = var.rollout_step_percent >= 1 && var.rollout_step_percent <= 99 && floor(var.rollout_step_percent) == var.rollout_step_percent
    error_message = "rollout_step_percent must be a whole number from 1 to 99."
  }
}

variable "rollout_wait_s" {
  description = "Baking period after each traffic shift step, in seconds (alarms are watched meanwhile)."
  type        = number
  default     = 300

  validation {
    condition     = var.rollout_wait_s >= 0 && var.rollout_wait_s <= 3600 && floor(var.rollout_wait_s) == var.rollout_wait_s
    error_message = "rollout_wait_s must be a whole number of seconds from 0 to 3600."
  }
}

variable "rollout_termination_wait_s" {
  description = "Final baking period with all traffic on the new fleet before the old one is terminated, in seconds."
  type        = number
  default     = 300

  validation {
    condition     = var.rollout_termination_wait_s >= 0 && var.rollout_termination_wait_s <= 3600 && floor(var.rollout_termination_wait_s) == var.rollout_termination_wait_s
    error_message = "rollout_termination_wait_s must be a whole number of seconds from 0 to 3600."
  }
}

variable "rollout_max_execution_s" {
  description = "Upper bound for the whole blue/green update, in seconds (SageMaker rolls back beyond it)."
  type        = number
  default     = 3600

  validation {
    condition     = var.rollout_max_execution_s >= 600 && var.rollout_max_execution_s <= 28800 && floor(var.rollout_max_execution_s) == var.rollout_max_execution_s
    error_message = "rollout_max_execution_s must be a whole number of seconds from 600 to 28800."
  }
}

variable "rollback_alarm_names" {
  description = "CloudWatch alarms that roll a rollout back when they go to ALARM (at most 10)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.rollback_alarm_names) <= 10
    error_message = "SageMaker accepts at most 10 rollback alarms."
  }
}

variable "data_capture_s3_uri" {
  description = "s3:// prefix for endpoint data capture (requests and responses), or null for none."
  type        = string
  default     = null
}

variable "data_capture_sampling_percent" {
  description = "Percent of requests captured when data capture is on."
  type        = number
  default     = 10

  validation {
    condition     = var.data_capture_sampling_percent >= 1 && var.data_capture_sampling_percent <= 100 && floor(var.data_capture_sampling_percent) == var.data_capture_sampling_percent
    error_message = "data_capture_sampling_percent must be a whole number from 1 to 100."
  }
}

variable "network_isolation" {
  description = "Run the model container with no network access (enable_network_isolation). The archive carries the wheels its requirements install from, and the Lambda downloads {\"url\": ...} images, so nothing needs the network; false only for a custom handler that must reach the internet."
  type        = bool
  default     = true
}

variable "model_server" {
  description = <<-EOT
    Model-server settings of the SageMaker PyTorch container, passed as its environment:
    workers (SAGEMAKER_MODEL_SERVER_WORKERS, and TorchServe's min/max workers, which default to 1
    as soon as any SAGEMAKER_TS_* variable is set), batch_size / max_batch_delay_ms
    (SAGEMAKER_TS_BATCH_SIZE / SAGEMAKER_TS_MAX_BATCH_DELAY) and ort_threads (ONNX Runtime
    threads per worker, DOGOPS_ORT_THREADS; 0 = one per core). batch_size stays 1 by default:
    the container's toolkit (sagemaker-inference 1.10) still calls input_fn/predict_fn once per
    request of a TorchServe batch, takes the first request's content type for all of them and
    fails the whole batch on one bad request, so a larger batch only adds the delay there. For
    throughput use workers x ort_threads = the instance's vCPUs (docs/training.md).
  EOT
  type = object({
    workers            = optional(number, 1)
    batch_size         = optional(number, 1)
    max_batch_delay_ms = optional(number, 20)
    ort_threads        = optional(number, 0)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.model_server.workers >= 1 && var.model_server.workers <= 64 && floor(var.model_server.workers) == var.model_server.workers
    error_message = "model_server.workers must be a whole number from 1 to 64."
  }

  validation {
    condition     = var.model_server.batch_size >= 1 && var.model_server.batch_size <= 64 && floor(var.model_server.batch_size) == var.model_server.batch_size
    error_message = "model_server.batch_size must be a whole number from 1 to 64."
  }

  validation {
    condition     = var.model_server.max_batch_delay_ms >= 1 && var.model_server.max_batch_delay_ms <= 1000 && floor(var.model_server.max_batch_delay_ms) == var.model_server.max_batch_delay_ms
    error_message = "model_server.max_batch_delay_ms must be a whole number of milliseconds from 1 to 1000."
  }

  validation {
    condition     = var.model_server.ort_threads >= 0 && var.model_server.ort_threads <= 64 && floor(var.model_server.ort_threads) == var.model_server.ort_threads
    error_message = "model_server.ort_threads must be a whole number from 0 (one per core) to 64."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the endpoint instances' ML storage volume and captured data; null uses the SageMaker-managed key."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]{36}$", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>), not an alias."
  }
}
