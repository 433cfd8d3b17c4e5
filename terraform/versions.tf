terraform {
  # 1.9+: variable validations that refer to other variables (min <= max, provisioned <= reserved).
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
