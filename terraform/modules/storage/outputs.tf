output "bucket_name" {
  description = "Name of the artifacts bucket."
  value       = aws_s3_bucket.artifacts.id
}

output "bucket_arn" {
  description = "ARN of the artifacts bucket."
  value       = aws_s3_bucket.artifacts.arn
}

output "access_log_bucket_name" {
  description = "Bucket receiving the server access logs, or null when access logging is off."
  value       = var.access_log_bucket_name
}

output "created_access_log_bucket_name" {
  description = "The access-log bucket this module created (destroyed with its logs along with the stack), or null."
  value       = var.create_access_log_bucket ? var.access_log_bucket_name : null
}

output "policy_documents" {
  description = "The rendered bucket policies (for review and tests); access_logs is null when no log bucket is created."
  value = {
    artifacts   = aws_s3_bucket_policy.tls_only.policy
    access_logs = one(aws_s3_bucket_policy.access_logs[*].policy)
  }
}

output "default_encryption" {
  description = "The bucket's default encryption: sse_algorithm (AES256 or aws:kms), kms_key_arn and bucket_key_enabled."
  value = {
    sse_algorithm      = one(aws_s3_bucket_server_side_encryption_configuration.artifacts.rule).apply_server_side_encryption_by_default[0].sse_algorithm
    kms_key_arn        = one(aws_s3_bucket_server_side_encryption_configuration.artifacts.rule).apply_server_side_encryption_by_default[0].kms_master_key_id
    bucket_key_enabled = one(aws_s3_bucket_server_side_encryption_configuration.artifacts.rule).bucket_key_enabled
  }
}
