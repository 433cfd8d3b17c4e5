# Emulator runs place emulator/providers_override.tf beside this file as
# emulator_providers_override.tf (gitignored); Terraform merges it into this block.
provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, {
      Project   = var.project_name
      ManagedBy = "terraform"
    }, var.environment == "" ? {} : { Environment = var.environment })
  }
}
