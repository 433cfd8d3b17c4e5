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
