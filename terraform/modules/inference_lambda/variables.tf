variable "function_name" {
  description = "Name of the Lambda function."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 letters, digits, '-' or '_'."
  }
}

variable "role_arn" {
  description = "ARN of the function's execution role."
  type        = string

  validation {
    condition     = can(regex("^arn:[a-z-]+:iam::[0-9]{12}:role/.+$", var.role_arn))
    error_message = "role_arn must be an IAM role ARN."
  }
}

variable "zip_path" {
  description = "Path of the pre-built deployment zip (lambda_function/ packaged deterministically by the tooling)."
  type        = string

  validation {
    condition     = endswith(var.zip_path, ".zip") && fileexists(var.zip_path)
    error_message = "zip_path must name an existing .zip file: build the Lambda package first (`invoke package` writes build/lambda_function.zip) or point lambda_zip_path at one."
  }
}

variable "endpoint_name" {
  description = "SageMaker endpoint the function calls (passed as ENDPOINT_NAME)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint_name))
    error_message = "endpoint_name must be 1-63 letters, digits and '-', not starting or ending with '-'."
  }
}

variable "runtime" {
  description = "Python runtime of the function."
  type        = string
  default     = "python3.12"

  validation {
    condition     = contains(["python3.11", "python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be python3.11, python3.12 or python3.13 (SnapStart needs python3.12 or later)."
  }
}

variable "memory_mb" {
  description = "Memory of the function in MB (CPU share grows with it)."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240 && floor(var.memory_mb) == var.memory_mb
    error_message = "memory_mb must be a whole number from 128 to 10240."
  }
}

variable "timeout_s" {
  description = "Function timeout in seconds; keep it above the handler's worst case: a url download (8 s) plus 2 x (2 s + 12 s) for the endpoint."
  type        = number
  default     = 40

  validation {
    condition     = var.timeout_s >= 3 && var.timeout_s <= 900 && floor(var.timeout_s) == var.timeout_s
    error_message = "timeout_s must be a whole number of seconds from 3 to 900."
  }
}

variable "top_k" {
  description = "Default number of predictions returned (TOP_K); callers may ask for up to 10."
  type        = number
  default     = 3

  validation {
    condition     = var.top_k >= 1 && var.top_k <= 10 && floor(var.top_k) == var.top_k
    error_message = "top_k must be a whole number from 1 to 10."
  }
}

variable "reserved_concurrency" {
  description = "Concurrent executions reserved for (and capping) the function; -1 leaves it unreserved."
  type        = number
  default     = 10

  validation {
    condition     = var.reserved_concurrency == -1 || (var.reserved_concurrency >= 1 && floor(var.reserved_concurrency) == var.reserved_concurrency)
    error_message = "reserved_concurrency must be -1 (unreserved) or a whole number of at least 1."
  }
}

variable "provisioned_concurrency" {
  description = "Pre-initialised execution environments on the alias; 0 turns provisioned concurrency off."
  type        = number
  default     = 1

  validation {
    condition     = var.provisioned_concurrency >= 0 && floor(var.provisioned_concurrency) == var.provisioned_concurrency && (var.reserved_concurrency == -1 || var.provisioned_concurrency <= var.reserved_concurrency)
    error_message = "provisioned_concurrency must be a whole number from 0 up to reserved_concurrency."
  }
}

variable "enable_snapstart" {
  description = "Turn on SnapStart for published versions (python3.12+; AWS does not allow it together with provisioned concurrency)."
  type        = bool
  default     = false
  nullable    = false

  validation {
    condition     = !var.enable_snapstart || (var.provisioned_concurrency == 0 && var.runtime != "python3.11")
    error_message = "enable_snapstart needs provisioned_concurrency = 0 (AWS does not combine SnapStart with provisioned concurrency) and a python3.12 or later runtime."
  }
}

variable "enable_function_url" {
  description = "Create a function URL on the alias, authenticated with AWS_IAM (SigV4-signed requests only)."
  type        = bool
  default     = false
  nullable    = false
}

variable "log_retention_days" {
  description = "Retention of the function's log group in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the function's log group (its key policy must allow the CloudWatch Logs service principal); null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]{36}$", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>), not an alias."
  }
}
