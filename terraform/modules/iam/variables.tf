variable "name_prefix" {
  description = "Prefix for role names (the project name)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 characters of lowercase letters, digits and '-', starting with a letter."
  }
}

variable "policies_dir" {
  description = "Directory holding the policy templates (*.json.tftpl)."
  type        = string

  validation {
    condition = alltrue([
      for name in ["assume_role", "sagemaker_training", "sagemaker_serving", "lambda_invoke_endpoint", "training_host"] :
      fileexists("${var.policies_dir}/${name}.json.tftpl")
    ])
    error_message = "policies_dir must contain assume_role, sagemaker_training, sagemaker_serving, lambda_invoke_endpoint and training_host .json.tftpl (the repository's policies/ directory)."
  }
}

variable "partition" {
  description = "AWS partition of the account (aws, aws-cn, aws-us-gov)."
  type        = string

  validation {
    condition     = contains(["aws", "aws-cn", "aws-us-gov"], var.partition)
    error_message = "partition must be one of aws, aws-cn, aws-us-gov."
  }
}

variable "region" {
  description = "AWS region the stack runs in."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like us-east-1."
  }
}

variable "account_id" {
  description = "12-digit id of the AWS account that owns the stack (confused-deputy guard in trust policies and ARNs)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "bucket_arn" {
  description = "ARN of the artifacts bucket."
  type        = string

  validation {
    condition     = can(regex("^arn:[a-z-]+:s3:::[a-z0-9.-]{3,63}$", var.bucket_arn))
    error_message = "bucket_arn must be an S3 bucket ARN such as arn:aws:s3:::my-bucket."
  }
}

variable "endpoint_name" {
  description = "Name of the SageMaker endpoint the Lambda may invoke (known before the endpoint exists)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint_name))
    error_message = "endpoint_name must be 1-63 letters, digits and '-', not starting or ending with '-'."
  }
}

variable "lambda_log_group_arn" {
  description = "ARN of the Lambda function's own log group (without the trailing :*)."
  type        = string

  validation {
    condition     = can(regex("^arn:[a-z-]+:logs:[a-z0-9-]+:[0-9]{12}:log-group:/aws/lambda/[A-Za-z0-9_-]+$", var.lambda_log_group_arn))
    error_message = "lambda_log_group_arn must be a log group ARN ending in log-group:/aws/lambda/<function name>."
  }
}

variable "training_ecr_repository_arns" {
  description = "ECR repositories the training role may pull images from (the training container)."
  type        = list(string)

  validation {
    condition = length(var.training_ecr_repository_arns) > 0 && alltrue([
      for arn in var.training_ecr_repository_arns :
      can(regex("^arn:[a-z-]+:ecr:[a-z0-9-]+:[0-9]{12}:repository/[a-z0-9._/-]+$", arn))
    ])
    error_message = "training_ecr_repository_arns must list at least one ECR repository ARN (arn:aws:ecr:<region>:<account>:repository/<name>); wildcards are not allowed."
  }
}

variable "serving_ecr_repository_arns" {
  description = "ECR repositories the serving role may pull images from (the inference container)."
  type        = list(string)

  validation {
    condition = length(var.serving_ecr_repository_arns) > 0 && alltrue([
      for arn in var.serving_ecr_repository_arns :
      can(regex("^arn:[a-z-]+:ecr:[a-z0-9-]+:[0-9]{12}:repository/[a-z0-9._/-]+$", arn))
    ])
    error_message = "serving_ecr_repository_arns must list at least one ECR repository ARN (arn:aws:ecr:<region>:<account>:repository/<name>); wildcards are not allowed."
  }
}

variable "create_training_host_role" {
  description = "Create the EC2 training host role and instance profile."
  type        = bool
  default     = false
  nullable    = false
}

variable "data_capture_prefix" {
  description = "Bucket prefix (ending in /) the endpoint writes captured data to, or null when data capture is off."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key of the bucket (SSE-KMS); the training, serving and training host roles may use it through S3 only. null: no key statement."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]{36}$", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>), not an alias."
  }
}
