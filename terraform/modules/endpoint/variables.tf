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
