output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "Unqualified ARN of the Lambda function."
  value       = aws_lambda_function.this.arn
}

output "function_version" {
  description = "Published version the alias points to."
  value       = aws_lambda_function.this.version
}

output "alias_name" {
  description = "Name of the alias that serves traffic."
  value       = aws_lambda_alias.live.name
}

output "alias_arn" {
  description = "ARN of the alias that serves traffic (invoke this, not $LATEST)."
  value       = aws_lambda_alias.live.arn
}

output "function_url" {
  description = "AWS_IAM-authenticated function URL of the alias, or null when disabled."
  value       = one(aws_lambda_function_url.live[*].function_url)
}

output "log_group_name" {
  description = "Log group of the function."
  value       = local.log_group_name
}

output "log_group_kms_key_id" {
  description = "KMS key of the function's log group, or null for CloudWatch Logs' own encryption."
  # "" (unset, as some APIs read it back) reported as null, so a re-plan stays empty.
  value = aws_cloudwatch_log_group.function.kms_key_id == "" ? null : aws_cloudwatch_log_group.function.kms_key_id
}
