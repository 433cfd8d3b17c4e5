# Read-only role for `invoke plan --target aws` from GitHub Actions, assumed through OIDC (no
# long-lived keys). Only workflow runs of one repository on one branch may assume it (the token's
# aud and sub claims); it reads the state and the stack, and may only take/release the state lock.

locals {
  oidc_host = "token.actions.githubusercontent.com"
  # Built from the host name (not read from the created provider) so the trust policy is known
  # at plan time and the policy check (make policy-check) can read it.
  oidc_provider_arn = coalesce(var.oidc_provider_arn, "${local.arn_prefix}:iam::${var.account_id}:oidc-provider/${local.oidc_host}")
  arn_prefix        = "arn:${var.partition}"
}

resource "aws_iam_openid_connect_provider" "github" {
  count = var.oidc_provider_arn == null ? 1 : 0

  url            = "https://${local.oidc_host}"
  client_id_list = ["sts.amazonaws.com"]
}

resource "aws_iam_role" "plan" {
  name                 = "${var.name_prefix}-github-plan"
  max_session_duration = 3600
  assume_role_policy   = local.trust_policy

  # The trust policy names the provider by ARN: create the provider first.
  depends_on = [aws_iam_openid_connect_provider.github]
}

resource "aws_iam_role_policy" "plan" {
  name   = "plan-read-only"
  role   = aws_iam_role.plan.id
  policy = local.policy
}

locals {
  # One statement uses Resource "*": EC2 and Application Auto Scaling Describe* actions have no
  # resource-level permissions. Everything else names the project's ARNs (all environments).
  trust_policy = templatefile("${var.policies_dir}/github_oidc_trust.json.tftpl", {
    oidc_provider_arn = local.oidc_provider_arn
    repository        = var.github_repository
    branch            = var.github_branch
  })
  policy = templatefile("${var.policies_dir}/ci_plan.json.tftpl", {
    state_bucket_arn      = "${local.arn_prefix}:s3:::${var.state_bucket}"
    artifacts_bucket_arns = "${local.arn_prefix}:s3:::${var.name_prefix}-*"
    iam_arns = [
      "${local.arn_prefix}:iam::${var.account_id}:role/${var.name_prefix}-*",
      "${local.arn_prefix}:iam::${var.account_id}:instance-profile/${var.name_prefix}-*",
      "${local.arn_prefix}:iam::${var.account_id}:oidc-provider/${local.oidc_host}",
    ]
    function_arns = [
      "${local.arn_prefix}:lambda:${var.region}:${var.account_id}:function:${var.name_prefix}-*",
    ]
    log_groups_arn = "${local.arn_prefix}:logs:${var.region}:${var.account_id}:log-group:*"
    instance_and_scaling_arns = [
      "${local.arn_prefix}:ec2:${var.region}:${var.account_id}:instance/*",
      "${local.arn_prefix}:application-autoscaling:${var.region}:${var.account_id}:scalable-target/*",
    ]
    sagemaker_arns = [
      "${local.arn_prefix}:sagemaker:${var.region}:${var.account_id}:model/${var.name_prefix}-*",
      "${local.arn_prefix}:sagemaker:${var.region}:${var.account_id}:endpoint-config/${var.name_prefix}-*",
      "${local.arn_prefix}:sagemaker:${var.region}:${var.account_id}:endpoint/${var.name_prefix}-*",
    ]
  })
}
