# Remote state: S3, versioned and encrypted, locked by Terraform's own lockfile (use_lockfile,
# Terraform >= 1.10; no DynamoDB table). The block is partial: `invoke bootstrap --target aws`
# creates the bucket and writes aws.s3.tfbackend; each environment adds its own key:
#   terraform init -backend-config=aws.s3.tfbackend -backend-config=key=dogops/<env>/terraform.tfstate
# Emulator runs that were not bootstrapped swap in a local backend (emulator/local_state_override.tf).
terraform {
  backend "s3" {}
}
