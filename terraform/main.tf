# Root configuration: storage, IAM and the Lambda always; the SageMaker endpoint once
# model_data_url is set (the tooling applies once for a bucket, trains, then applies again);
# the EC2 training host only when enable_training_host is true.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  policies_dir = "${path.root}/../policies"
  # Every name starts with this: environments (var.environment) coexist in one account.
  name_prefix = var.environment == "" ? var.project_name : "${var.project_name}-${var.environment}"
  bucket_name = coalesce(var.bucket_name, "${local.name_prefix}-${local.account_id}-${var.region}")
  # Built from the name (not read from the bucket) so policies show their real ARNs in the plan.
  bucket_arn      = "arn:${local.partition}:s3:::${local.bucket_name}"
  endpoint_name   = "${local.name_prefix}-endpoint"
  function_name   = "${local.name_prefix}-predict"
  lambda_zip_path = coalesce(var.lambda_zip_path, "${path.root}/../build/lambda_function.zip")
  # Endpoint data capture (requests + responses, sampled) lands under this prefix when enabled.
  data_capture_prefix = "data-capture/"
  # --- defence in depth (docs/security.md) ---
  # A created log bucket is named after the artifacts bucket (cut to fit 63 characters).
  access_log_bucket_name = !var.enable_access_logging ? null : coalesce(
    var.access_log_bucket, "${replace(substr(local.bucket_name, 0, 58), "/[-.]+$/", "")}-logs",
  )

  lambda_log_group_arn = join(":", [
    "arn", local.partition, "logs", var.region, local.account_id, "log-group",
    "/aws/lambda/${local.function_name}",
  ])

  # AWS Deep Learning Containers live in 763104351884 in most regions; these regions use their
  # own registry account (from the SageMaker Python SDK's image_uri_config/pytorch.json).
  dlc_registry_accounts = {
    "af-south-1"     = "626614931356"
    "ap-east-1"      = "871362719292"
    "ap-east-2"      = "975050140332"
    "ap-northeast-3" = "364406365360"
    "ap-south-2"     = "772153158452"
    "ap-southeast-3" = "907027046896"
    "ap-southeast-4" = "457447274322"
    "ap-southeast-5" = "550225433462"
    "ap-southeast-6" = "633930458069"
    "ap-southeast-7" = "590183813437"
    "ca-west-1"      = "204538143572"
    "cn-north-1"     = "727897471807"
    "cn-northwest-1" = "727897471807"
    "eu-central-2"   = "380420809688"
    "eu-south-1"     = "692866216735"
    "eu-south-2"     = "503227376785"
    "il-central-1"   = "780543022126"
    "me-central-1"   = "914824155844"
    "me-south-1"     = "217643126080"
    "mx-central-1"   = "637423239942"
    "us-gov-east-1"  = "446045086412"
    "us-gov-west-1"  = "442386744353"
  }
  dlc_account  = lookup(local.dlc_registry_accounts, var.region, "763104351884")
  dlc_registry = "${local.dlc_account}.dkr.ecr.${var.region}.${data.aws_partition.current.dns_suffix}"

  inference_image_uri = coalesce(var.inference_image_uri, "${local.dlc_registry}/pytorch-inference:2.6.0-cpu-py312")

  # Each SageMaker role may pull exactly the repository it uses: training the region's DLC PyTorch
  # training repository, serving the repository of the inference image (DLC or custom).
  image_parts                  = regex("^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.[^/]+/([^:@]+)", local.inference_image_uri)
  training_ecr_repository_arns = ["arn:${local.partition}:ecr:${var.region}:${local.dlc_account}:repository/pytorch-training"]
  serving_ecr_repository_arns  = ["arn:${local.partition}:ecr:${local.image_parts[1]}:${local.image_parts[0]}:repository/${local.image_parts[2]}"]
}

module "storage" {
  source = "./modules/storage"

  bucket_name                        = local.bucket_name
  partition                          = local.partition
  policies_dir                       = local.policies_dir
  force_destroy                      = var.bucket_force_destroy
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days

  # Defence in depth (docs/security.md): customer-managed key, server access logs.
  kms_key_arn               = var.kms_key_arn
  access_log_bucket_name    = local.access_log_bucket_name
  create_access_log_bucket  = var.enable_access_logging && var.access_log_bucket == null
  access_log_retention_days = var.access_log_retention_days
  account_id                = local.account_id
}

module "iam" {
  source = "./modules/iam"

  name_prefix                  = local.name_prefix
  policies_dir                 = local.policies_dir
  partition                    = local.partition
  region                       = var.region
  account_id                   = local.account_id
  bucket_arn                   = local.bucket_arn
  endpoint_name                = local.endpoint_name
  lambda_log_group_arn         = local.lambda_log_group_arn
  training_ecr_repository_arns = local.training_ecr_repository_arns
  serving_ecr_repository_arns  = local.serving_ecr_repository_arns
  create_training_host_role    = var.enable_training_host
  data_capture_prefix          = var.data_capture_sampling_percent > 0 ? local.data_capture_prefix : null

  # Defence in depth (docs/security.md): the roles that touch bucket objects may use the key.
  kms_key_arn = var.kms_key_arn
}

module "endpoint" {
  source = "./modules/endpoint"
  count  = var.model_data_url == null ? 0 : 1

  endpoint_name                   = local.endpoint_name
  model_data_url                  = var.model_data_url
  inference_image_uri             = local.inference_image_uri
  execution_role_arn              = module.iam.serving_role_arn
  region                          = var.region
  instance_type                   = var.endpoint_instance_type
  min_capacity                    = var.min_capacity
  max_capacity                    = var.max_capacity
  target_invocations_per_instance = var.target_invocations_per_instance
  scale_in_cooldown               = var.scale_in_cooldown
  scale_out_cooldown              = var.scale_out_cooldown
  model_server                    = var.endpoint_model_server
  network_isolation               = var.endpoint_network_isolation

  # Model lifecycle (docs/terraform.md, "Model rollouts"): guarded blue/green rollouts that roll
  # back on the monitoring module's alarms, the live fleet size kept, optional data capture.
  initial_instance_count        = var.endpoint_initial_instance_count
  deployment_guardrails         = var.deployment_guardrails
  rollout_traffic               = var.rollout_traffic
  rollout_step_percent          = var.rollout_step_percent
  rollout_wait_s                = var.rollout_wait_s
  rollout_termination_wait_s    = var.rollout_termination_wait_s
  rollout_max_execution_s       = var.rollout_max_execution_s
  rollback_alarm_names          = var.enable_monitoring ? module.monitoring[0].rollback_alarm_names : []
  data_capture_s3_uri           = var.data_capture_sampling_percent > 0 ? "s3://${local.bucket_name}/${local.data_capture_prefix}" : null
  data_capture_sampling_percent = max(var.data_capture_sampling_percent, 1)
  kms_key_arn                   = var.kms_key_arn # ML storage volume and captured data

  # The model's role must be able to read the archive and pull the image before SageMaker tries.
  depends_on = [module.iam]
}

module "inference_lambda" {
  source = "./modules/inference_lambda"

  function_name           = local.function_name
  role_arn                = module.iam.lambda_role_arn
  zip_path                = local.lambda_zip_path
  endpoint_name           = local.endpoint_name
  runtime                 = var.lambda_runtime
  memory_mb               = var.lambda_memory_mb
  timeout_s               = var.lambda_timeout_s
  top_k                   = var.lambda_top_k
  reserved_concurrency    = var.reserved_concurrency
  provisioned_concurrency = var.provisioned_concurrency
  enable_snapstart        = var.enable_snapstart
  enable_function_url     = var.enable_function_url
  log_retention_days      = var.lambda_log_retention_days
  kms_key_arn             = var.kms_key_arn # the function's log group

  # Provisioned environments initialise right away; the role policy must already be attached.
  depends_on = [module.iam]
}

module "training_host" {
  source = "./modules/training_host"
  count  = var.enable_training_host ? 1 : 0

  name_prefix           = local.name_prefix
  instance_type         = var.training_host_instance_type
  ami_id                = var.training_host_ami_id
  ami_ssm_parameter     = var.training_host_ami_ssm_parameter
  instance_profile_name = module.iam.training_host_instance_profile_name
  bucket_name           = module.storage.bucket_name
  region                = var.region
  run_id                = var.training_host_run_id
  train_args            = var.training_host_train_args
  use_spot              = var.training_host_use_spot
  root_volume_size_gb   = var.training_host_root_volume_gb
  subnet_id             = var.training_host_subnet_id
  detailed_monitoring   = var.training_host_detailed_monitoring
  kms_key_arn           = var.kms_key_arn # root volume
}

module "ci_plan_role" {
  source = "./modules/ci_plan_role"
  count  = var.enable_github_plan_role ? 1 : 0

  name_prefix       = var.project_name # one role for every environment of the project
  policies_dir      = local.policies_dir
  partition         = local.partition
  region            = var.region
  account_id        = local.account_id
  github_repository = var.github_repository
  github_branch     = var.github_plan_branch
  oidc_provider_arn = var.github_oidc_provider_arn
  state_bucket      = var.github_state_bucket
}

module "monitoring" {
  source = "./modules/monitoring"
  count  = var.enable_monitoring ? 1 : 0

  endpoint_name             = local.endpoint_name
  function_name             = local.function_name
  region                    = var.region
  period_s                  = var.alarm_period_s
  endpoint_5xx_errors       = var.alarm_endpoint_5xx_errors
  endpoint_latency_p99_ms   = var.alarm_endpoint_latency_p99_ms
  endpoint_4xx_rate_percent = var.alarm_endpoint_4xx_rate_percent
  lambda_duration_p99_ms    = var.alarm_lambda_duration_p99_ms
  create_topic              = var.create_alarm_topic
  alarm_emails              = var.alarm_emails
  kms_key_arn               = var.kms_key_arn # alarm topic
}
