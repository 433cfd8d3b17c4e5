output "instance_id" {
  description = "Id of the training host instance."
  value       = aws_instance.training.id
}

output "ami_id" {
  description = "AMI the host was launched from."
  value       = local.ami_id
}

output "artifact_prefix" {
  description = "S3 prefix the host writes model.tar.gz, output.tar.gz and training.log under."
  value       = var.run_id == "" ? "s3://${var.bucket_name}/models/ec2/" : "s3://${var.bucket_name}/models/ec2/${var.run_id}/"
}

output "user_data" {
  description = "The rendered user data script (no secrets: bucket, keys, run id and train.py arguments only)."
  value       = local.user_data
}

output "root_volume_kms_key_id" {
  description = "KMS key of the host's root volume, or null for the account's default EBS key."
  # unset, EBS picks the account default: known only after apply
  value = var.kms_key_arn == null ? null : aws_instance.training.root_block_device[0].kms_key_id
}

output "associate_public_ip_address" {
  description = "false when the host sits in a given subnet without a public address; null when the default-VPC subnet's own setting applies."
  # unset, the subnet decides: known only after apply
  value = var.subnet_id == null ? null : aws_instance.training.associate_public_ip_address
}
