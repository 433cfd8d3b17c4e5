output "endpoint_name" {
  description = "Name of the SageMaker endpoint."
  value       = aws_sagemaker_endpoint.this.name
}

output "endpoint_arn" {
  description = "ARN of the SageMaker endpoint."
  value       = aws_sagemaker_endpoint.this.arn
}

output "model_name" {
  description = "Name of the SageMaker model currently behind the endpoint."
  value       = aws_sagemaker_model.this.name
}

output "endpoint_config_name" {
  description = "Name of the endpoint configuration currently in use."
  value       = aws_sagemaker_endpoint_configuration.this.name
}

output "variant_name" {
  description = "Production variant name (the dimension of the endpoint's CloudWatch metrics)."
  value       = local.variant_name
}

output "deployment_config" {
  description = "The endpoint's deployment_config (blue/green policy and rollback alarms), for review and tests."
  value       = aws_sagemaker_endpoint.this.deployment_config
}

output "endpoint_config_initial_instance_count" {
  description = "Instance count the current endpoint config starts with."
  value       = aws_sagemaker_endpoint_configuration.this.production_variants[0].initial_instance_count
}

output "data_capture_enabled" {
  description = "Whether the endpoint config captures requests and responses."
  value       = length(aws_sagemaker_endpoint_configuration.this.data_capture_config) > 0
}

output "data_capture_destination" {
  description = "s3:// prefix of captured data, or null."
  value       = one(aws_sagemaker_endpoint_configuration.this.data_capture_config[*].destination_s3_uri)
}

output "data_capture_sampling_percent" {
  description = "Percent of requests captured, or null."
  value       = one(aws_sagemaker_endpoint_configuration.this.data_capture_config[*].initial_sampling_percentage)
}

output "model_environment" {
  description = "Environment of the serving container (handler module, model-server workers and batching)."
  value       = aws_sagemaker_model.this.primary_container[0].environment
}

output "volume_kms_key_arn" {
  description = "KMS key of the endpoint config's ML storage volume, or null for the SageMaker-managed key."
  # The emulator reads an unset key back as "": report that as null, or a re-plan is never empty.
  value = aws_sagemaker_endpoint_configuration.this.kms_key_arn == "" ? null : aws_sagemaker_endpoint_configuration.this.kms_key_arn
}

output "network_isolation" {
  description = "Whether the model's container runs with no network access."
  value       = aws_sagemaker_model.this.enable_network_isolation
}

output "execution_role_arn" {
  description = "Role the model runs with (the serving role)."
  value       = aws_sagemaker_model.this.execution_role_arn
}
