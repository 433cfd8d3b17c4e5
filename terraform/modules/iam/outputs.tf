output "training_role_arn" {
  description = "ARN of the SageMaker training role (training and tuning jobs)."
  value       = aws_iam_role.sagemaker_training.arn
  # A job started right after apply must find its permissions in place.
  depends_on = [aws_iam_role_policy.sagemaker_training]
}

output "serving_role_arn" {
  description = "ARN of the SageMaker serving role (the endpoint's model: reads model archives only)."
  value       = aws_iam_role.sagemaker_serving.arn
  depends_on  = [aws_iam_role_policy.sagemaker_serving]
}

output "lambda_role_arn" {
  description = "ARN of the Lambda function's execution role."
  value       = aws_iam_role.lambda.arn
}

output "lambda_role_policy_id" {
  description = "Id of the Lambda role's inline policy (lets the function wait until it can log and invoke)."
  value       = aws_iam_role_policy.lambda.id
}

output "training_host_role_arn" {
  description = "ARN of the EC2 training host role, or null when the host is disabled."
  value       = one(aws_iam_role.training_host[*].arn)
}

output "training_host_instance_profile_name" {
  description = "Name of the EC2 training host instance profile, or null when the host is disabled."
  value       = one(aws_iam_instance_profile.training_host[*].name)
  # The host reads S3 as soon as it boots: launch it only once its permissions exist.
  depends_on = [aws_iam_role_policy.training_host]
}

output "policy_documents" {
  description = "The rendered permission policies by role (for review and tests); training_host is null when disabled."
  value = {
    training      = aws_iam_role_policy.sagemaker_training.policy
    serving       = aws_iam_role_policy.sagemaker_serving.policy
    lambda        = aws_iam_role_policy.lambda.policy
    training_host = one(aws_iam_role_policy.training_host[*].policy)
  }
}

output "trust_policy_documents" {
  description = "The rendered trust (assume-role) policies by role; training_host is null when disabled."
  value = {
    training      = aws_iam_role.sagemaker_training.assume_role_policy
    serving       = aws_iam_role.sagemaker_serving.assume_role_policy
    lambda        = aws_iam_role.lambda.assume_role_policy
    training_host = one(aws_iam_role.training_host[*].assume_role_policy)
  }
}
