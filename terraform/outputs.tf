output "bucket_name" {
  description = "Artifacts bucket (data/, code/, training-jobs/, checkpoints/, models/ec2/)."
  value       = module.storage.bucket_name
}

output "endpoint_name" {
  description = "Deterministic SageMaker endpoint name (the endpoint exists once model_data_url is set; see endpoint_deployed)."
  value       = local.endpoint_name
}

output "endpoint_deployed" {
  description = "Whether this configuration manages a model, endpoint and autoscaling (model_data_url is set)."
  value       = var.model_data_url != null
}

output "model_name" {
  description = "SageMaker model behind the endpoint, or null before a model_data_url is set."
  value       = one(module.endpoint[*].model_name)
}

output "inference_image_uri" {
  description = "Serving container image the model uses."
  value       = local.inference_image_uri
}

output "function_name" {
  description = "Name of the Lambda function."
  value       = module.inference_lambda.function_name
}

output "function_alias_arn" {
  description = "ARN of the live alias (invoke this: it carries the provisioned concurrency)."
  value       = module.inference_lambda.alias_arn
}

output "function_url" {
  description = "AWS_IAM-authenticated function URL of the live alias, or null when enable_function_url is false."
  value       = module.inference_lambda.function_url
}

output "training_role_arn" {
  description = "Role for SageMaker training and tuning jobs (reads data and code, writes job output and checkpoints)."
  value       = module.iam.training_role_arn
}

output "serving_role_arn" {
  description = "Role of the endpoint's model (reads model archives, writes its logs; nothing else in the bucket)."
  value       = module.iam.serving_role_arn
}

output "lambda_role_arn" {
  description = "Execution role of the Lambda function."
  value       = module.iam.lambda_role_arn
}

output "training_host_role_arn" {
  description = "Role of the EC2 training host, or null when enable_training_host is false."
  value       = module.iam.training_host_role_arn
}

output "training_host_instance_id" {
  description = "Instance id of the EC2 training host, or null when enable_training_host is false."
  value       = one(module.training_host[*].instance_id)
}

output "training_host_artifact_prefix" {
  description = "S3 prefix the training host uploads its run to, or null when enable_training_host is false."
  value       = one(module.training_host[*].artifact_prefix)
}

output "model_data_url" {
  description = "S3 URI of the model archive this configuration serves (null before one is deployed): what `invoke promote` reads as the environment's live model."
  value       = var.model_data_url
}

output "environment" {
  description = "Environment name (\"\" for the default one)."
  value       = var.environment
}

output "github_plan_role_arn" {
  description = "Role the main-branch workflow assumes through OIDC for `invoke plan --target aws` (set it as the repository variable DOGOPS_PLAN_ROLE_ARN), or null when enable_github_plan_role is false."
  value       = one(module.ci_plan_role[*].role_arn)
}

output "endpoint_config_name" {
  description = "Endpoint config the endpoint should be on after this apply (the deploy verifies it), or null."
  value       = one(module.endpoint[*].endpoint_config_name)
}

output "rollback_alarm_names" {
  description = "Alarms that roll a model rollout back."
  value       = var.enable_monitoring ? module.monitoring[0].rollback_alarm_names : []
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the endpoint and Lambda, or null."
  value       = one(module.monitoring[*].dashboard_name)
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify, or null."
  value       = one(module.monitoring[*].topic_arn)
}

# --- defence in depth (docs/security.md) ---

output "access_log_bucket_name" {
  description = "Bucket receiving the artifacts bucket's server access logs (under s3-access/), or null when enable_access_logging is false."
  value       = module.storage.access_log_bucket_name
}

output "created_access_log_bucket_name" {
  description = "The access-log bucket this stack created (a destroy deletes it with its logs), or null."
  value       = module.storage.created_access_log_bucket_name
}

output "bucket_policy_documents" {
  description = "The rendered bucket policies: artifacts (TLS only) and access_logs (S3 log delivery; null unless the stack creates the log bucket)."
  value       = module.storage.policy_documents
}

output "encryption" {
  description = "Where the customer-managed key (kms_key_arn) is in use; null values mean AWS-managed encryption (or the resource is not deployed)."
  value = {
    kms_key_arn                 = var.kms_key_arn
    bucket                      = module.storage.default_encryption
    endpoint_volume_kms_key_arn = one(module.endpoint[*].volume_kms_key_arn)
    lambda_log_group_kms_key_id = module.inference_lambda.log_group_kms_key_id
    alarm_topic_kms_key_id      = one(module.monitoring[*].topic_kms_key_id)
    training_host_root_volume   = one(module.training_host[*].root_volume_kms_key_id)
  }
}

output "training_host_public_ip" {
  description = "false when the training host sits in training_host_subnet_id without a public address; null when it is off or the default-VPC subnet's own setting applies."
  value       = one(module.training_host[*].associate_public_ip_address)
}
