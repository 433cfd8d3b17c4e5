# Emulator runs before `invoke bootstrap --target local`: the tooling copies this file beside the
# root configuration as emulator_local_state_override.tf (gitignored) for the run only, so the
# root's S3 backend is replaced by a local state file (.dogops/local/[envs/<env>/]terraform.tfstate,
# passed with -state). Terraform lets a backend block in an *_override.tf file replace the root's.
terraform {
  backend "local" {}
}
