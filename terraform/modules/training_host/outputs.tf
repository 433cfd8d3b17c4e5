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
