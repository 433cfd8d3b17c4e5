# Emulator profile: a tflocal-style override of the root provider, for runs against the local
# AWS emulator (moto server) on 127.0.0.1:4566. The tooling copies this file beside the root
# configuration as terraform/emulator_providers_override.tf (gitignored) for the run only, with
# its own state file, so the main configuration is never edited and emulator state never mixes
# with AWS state. Terraform merges *_override.tf files into the matching blocks.
#
# By hand (before `invoke bootstrap`; the second override swaps the S3 backend for a local file):
#   cp emulator/providers_override.tf emulator_providers_override.tf
#   cp emulator/local_state_override.tf emulator_local_state_override.tf
#   terraform init -reconfigure -backend-config=path=../.dogops/local/terraform.tfstate
#   terraform plan -var-file=emulator/emulator.tfvars.json
#   rm emulator_providers_override.tf emulator_local_state_override.tf
provider "aws" {
  # Credentials come from the environment: the tooling sets the emulator's operator key (the
  # emulator enforces IAM; by hand, export AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from
  # .dogops/local/operator-credentials.json). They never reach AWS.

  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  skip_region_validation      = true
  s3_use_path_style           = true

  # Every service the configuration uses, all on the emulator's single port.
  endpoints {
    applicationautoscaling = "http://127.0.0.1:4566"
    cloudwatch             = "http://127.0.0.1:4566"
    ec2                    = "http://127.0.0.1:4566"
    iam                    = "http://127.0.0.1:4566"
    lambda                 = "http://127.0.0.1:4566"
    logs                   = "http://127.0.0.1:4566"
    s3                     = "http://127.0.0.1:4566"
    sagemaker              = "http://127.0.0.1:4566"
    sns                    = "http://127.0.0.1:4566"
    sts                    = "http://127.0.0.1:4566"
  }
}
