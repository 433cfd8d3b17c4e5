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

output "model_environment" {
  description = "Environment of the serving container (handler module, model-server workers and batching)."
  value       = aws_sagemaker_model.this.primary_container[0].environment
}
