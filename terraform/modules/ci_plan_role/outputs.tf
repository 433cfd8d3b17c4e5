output "role_arn" {
  description = "Role for aws-actions/configure-aws-credentials (role-to-assume)."
  value       = aws_iam_role.plan.arn
}

output "trust_policy" {
  description = "Rendered trust policy (checked by tests/ci_plan_role.tftest.hcl)."
  value       = local.trust_policy
}

output "policy" {
  description = "Rendered permissions policy."
  value       = local.policy
}

output "oidc_provider_urls" {
  description = "URL of the OIDC provider this module created (empty when an existing one is used)."
  value       = aws_iam_openid_connect_provider.github[*].url
}
