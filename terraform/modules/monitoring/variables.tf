variable "endpoint_name" {
  description = "SageMaker endpoint whose metrics are watched."
  type        = string
}

variable "variant_name" {
  description = "Production variant of the endpoint (metric dimension)."
  type        = string
  default     = "AllTraffic"
}

variable "function_name" {
  description = "Lambda function whose metrics are watched."
  type        = string
}

variable "region" {
  description = "Region of the dashboard's metrics."
  type        = string
}

variable "period_s" {
  description = "Alarm and dashboard period in seconds (60 = CloudWatch's standard resolution)."
  type        = number
  default     = 60

  validation {
    condition     = contains([10, 30, 60, 300], var.period_s)
    error_message = "period_s must be 10, 30, 60 or 300."
  }
}

variable "endpoint_5xx_errors" {
  description = "5XX errors per period that set the 5XX alarm (and roll a rollout back)."
  type        = number
  default     = 1

  validation {
    condition     = var.endpoint_5xx_errors >= 1
    error_message = "endpoint_5xx_errors must be at least 1."
  }
}

variable "endpoint_latency_p99_ms" {
  description = "p99 ModelLatency in milliseconds above which the latency alarm fires (and a rollout rolls back)."
  type        = number
  default     = 2000

  validation {
    condition     = var.endpoint_latency_p99_ms > 0
    error_message = "endpoint_latency_p99_ms must be positive."
  }
}

variable "endpoint_4xx_rate_percent" {
  description = "Percent of invocations answered 4XX above which the 4XX alarm fires."
  type        = number
  default     = 10

  validation {
    condition     = var.endpoint_4xx_rate_percent > 0 && var.endpoint_4xx_rate_percent <= 100
    error_message = "endpoint_4xx_rate_percent must be in (0, 100]."
  }
}

variable "lambda_errors" {
  description = "Lambda errors per period that set the errors alarm."
  type        = number
  default     = 1

  validation {
    condition     = var.lambda_errors >= 1
    error_message = "lambda_errors must be at least 1."
  }
}

variable "lambda_throttles" {
  description = "Lambda throttles per period that set the throttles alarm."
  type        = number
  default     = 1

  validation {
    condition     = var.lambda_throttles >= 1
    error_message = "lambda_throttles must be at least 1."
  }
}

variable "lambda_duration_p99_ms" {
  description = "p99 Lambda duration in milliseconds above which the duration alarm fires."
  type        = number
  default     = 5000

  validation {
    condition     = var.lambda_duration_p99_ms > 0
    error_message = "lambda_duration_p99_ms must be positive."
  }
}

variable "create_topic" {
  description = "Create an SNS topic that every alarm notifies (ALARM and OK)."
  type        = bool
  default     = false
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the topic (each must confirm the subscription)."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the alarm topic (its key policy must allow cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*); null leaves the topic unencrypted."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]{36}$", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>), not an alias."
  }
}
