variable "name_prefix" {
  description = "Prefix of the role name and of the resources the role may read (<project>, every environment)."
  type        = string
}

variable "policies_dir" {
  description = "Directory of the IAM policy templates."
  type        = string
}

variable "partition" {
  type = string
}

variable "region" {
  type = string
}

variable "account_id" {
  type = string
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose workflow may assume the role."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name, e.g. my-org/dog-breeds."
  }
}

variable "github_branch" {
  description = "The one branch whose workflow runs may assume the role."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]+$", var.github_branch)) && !strcontains(var.github_branch, "*")
    error_message = "github_branch must be one branch name (no wildcards), e.g. main."
  }
}

variable "oidc_provider_arn" {
  description = "Existing IAM OIDC provider for token.actions.githubusercontent.com; null creates it (one per account)."
  type        = string
  default     = null
}

variable "state_bucket" {
  description = "Name of the Terraform state bucket (from aws.s3.tfbackend)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket))
    error_message = "state_bucket must be an S3 bucket name."
  }
}
