variable "bucket_name" {
  description = "Name of the S3 bucket for data, training code and model artifacts (globally unique)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !strcontains(var.bucket_name, "..")
    error_message = "bucket_name must be 3-63 characters of lowercase letters, digits, '.' and '-', starting and ending with a letter or digit."
  }
}

variable "policies_dir" {
  description = "Directory holding the policy templates (*.json.tftpl)."
  type        = string

  validation {
    condition     = fileexists("${var.policies_dir}/bucket_tls_only.json.tftpl")
    error_message = "policies_dir must contain bucket_tls_only.json.tftpl (the repository's policies/ directory)."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted object versions are removed for good."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number of days, at least 1."
  }
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete the bucket with its objects and versions (emulator and throwaway stacks only)."
  type        = bool
  default     = false
  nullable    = false
}

variable "partition" {
  description = "AWS partition of the account (aws, aws-cn, aws-us-gov): bucket ARNs in the policies are built from it."
  type        = string
  default     = "aws"
  nullable    = false

  validation {
    condition     = contains(["aws", "aws-cn", "aws-us-gov"], var.partition)
    error_message = "partition must be one of aws, aws-cn, aws-us-gov."
  }
}

# --- Defence in depth (docs/security.md) ---

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the bucket's default encryption (SSE-KMS with an S3 bucket key); null keeps SSE-S3 (AES-256)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]{36}$", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>), not an alias."
  }
}

variable "access_log_bucket_name" {
  description = "Bucket that receives the artifacts bucket's server access logs; null turns access logging off."
  type        = string
  default     = null

  validation {
    condition     = var.access_log_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_log_bucket_name))
    error_message = "access_log_bucket_name must be null or a valid bucket name (3-63 lowercase letters, digits, '.' and '-')."
  }
}

variable "create_access_log_bucket" {
  description = "Create access_log_bucket_name here (private, SSE-S3, versioned, expiring, writable only by S3 log delivery for this bucket); false delivers to an existing bucket whose policy already allows it."
  type        = bool
  default     = false
  nullable    = false

  validation {
    condition     = !var.create_access_log_bucket || (var.access_log_bucket_name != null && var.account_id != null)
    error_message = "create_access_log_bucket needs access_log_bucket_name and account_id."
  }
}

variable "access_log_prefix" {
  description = "Key prefix of the access logs in the log bucket (ends in /)."
  type        = string
  default     = "s3-access/"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.()-][A-Za-z0-9!_.()/-]*/$", var.access_log_prefix))
    error_message = "access_log_prefix must be a key prefix ending in '/', such as s3-access/."
  }
}

variable "access_log_retention_days" {
  description = "Days after which access log objects in a created log bucket expire."
  type        = number
  default     = 90
  nullable    = false

  validation {
    condition     = var.access_log_retention_days >= 1 && floor(var.access_log_retention_days) == var.access_log_retention_days
    error_message = "access_log_retention_days must be a whole number of days, at least 1."
  }
}

variable "account_id" {
  description = "12-digit id of the account (aws:SourceAccount of S3 log delivery); needed when create_access_log_bucket is true."
  type        = string
  default     = null

  validation {
    condition     = var.account_id == null || can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be null or 12 digits."
  }
}
