# Three roles, each allowed exactly what its job needs. Policy documents live in policies/ as
# JSON templates so a reviewer reads the same text AWS receives.

locals {
  arn_prefix = "arn:${var.partition}"
  logs_arn   = "${local.arn_prefix}:logs:${var.region}:${var.account_id}:log-group"

  # S3 layout (docs/DESIGN.md): data/, code/, training-jobs/, checkpoints/, models/ec2/.
  sagemaker_list_prefixes = ["data/*", "code/*", "training-jobs/*", "checkpoints/*", "models/*"]
  sagemaker_read_objects  = [for p in local.sagemaker_list_prefixes : "${var.bucket_arn}/${p}"]
  sagemaker_write_objects = concat(
    ["${var.bucket_arn}/training-jobs/*", "${var.bucket_arn}/checkpoints/*"],
    # endpoint data capture writes here only when it is enabled
    var.data_capture_prefix == null ? [] : ["${var.bucket_arn}/${var.data_capture_prefix}*"],
  )

  # Training jobs share one log group (a stream per job); the endpoint logs to its own group.
  sagemaker_log_groups = [
    "${local.logs_arn}:/aws/sagemaker/TrainingJobs",
    "${local.logs_arn}:/aws/sagemaker/TrainingJobs:*",
    "${local.logs_arn}:/aws/sagemaker/Endpoints/${var.endpoint_name}",
    "${local.logs_arn}:/aws/sagemaker/Endpoints/${var.endpoint_name}:*",
  ]

  # SageMaker endpoint ARNs carry the name in lower case.
  endpoint_arn = "${local.arn_prefix}:sagemaker:${var.region}:${var.account_id}:endpoint/${lower(var.endpoint_name)}"

  host_list_prefixes = ["code/*", "data/*"]
}

# --- SageMaker execution role (training jobs, tuning jobs, the endpoint's model) ---

resource "aws_iam_role" "sagemaker_execution" {
  name = "${var.name_prefix}-sagemaker-execution"
  assume_role_policy = templatefile("${var.policies_dir}/assume_role.json.tftpl", {
    service        = "sagemaker.amazonaws.com"
    source_account = var.account_id
  })
}

resource "aws_iam_role_policy" "sagemaker_execution" {
  name = "training-and-serving"
  role = aws_iam_role.sagemaker_execution.id
  # Two statements use Resource "*" because the actions have no resource-level permissions:
  # ecr:GetAuthorizationToken (registry login) and cloudwatch:PutMetricData (narrowed instead by
  # a cloudwatch:namespace condition to /aws/sagemaker/*).
  policy = templatefile("${var.policies_dir}/sagemaker_execution.json.tftpl", {
    bucket_arn          = var.bucket_arn
    list_prefixes       = local.sagemaker_list_prefixes
    read_object_arns    = local.sagemaker_read_objects
    write_object_arns   = local.sagemaker_write_objects
    ecr_repository_arns = var.ecr_repository_arns
    log_group_arns      = local.sagemaker_log_groups
    metric_namespaces   = ["/aws/sagemaker/*"]
  })
}

# --- Lambda role (the front door: invoke this endpoint, write its own logs) ---

resource "aws_iam_role" "lambda" {
  name = "${var.name_prefix}-lambda"
  assume_role_policy = templatefile("${var.policies_dir}/assume_role.json.tftpl", {
    service        = "lambda.amazonaws.com"
    source_account = var.account_id
  })
}

resource "aws_iam_role_policy" "lambda" {
  name = "invoke-endpoint-and-log"
  role = aws_iam_role.lambda.id
  policy = templatefile("${var.policies_dir}/lambda_invoke_endpoint.json.tftpl", {
    endpoint_arn  = local.endpoint_arn
    log_group_arn = var.lambda_log_group_arn
  })
}

# --- EC2 training host role (read code + data, write its model prefix) ---

resource "aws_iam_role" "training_host" {
  count = var.create_training_host_role ? 1 : 0

  name = "${var.name_prefix}-training-host"
  # EC2 does not pass aws:SourceAccount when assuming an instance role, so no condition here.
  assume_role_policy = templatefile("${var.policies_dir}/assume_role.json.tftpl", {
    service        = "ec2.amazonaws.com"
    source_account = ""
  })
}

resource "aws_iam_role_policy" "training_host" {
  count = var.create_training_host_role ? 1 : 0

  name = "read-code-data-write-models"
  role = aws_iam_role.training_host[0].id
  policy = templatefile("${var.policies_dir}/training_host.json.tftpl", {
    bucket_arn       = var.bucket_arn
    list_prefixes    = local.host_list_prefixes
    read_object_arns = [for p in local.host_list_prefixes : "${var.bucket_arn}/${p}"]
    write_object_arn = "${var.bucket_arn}/models/ec2/*"
  })
}

resource "aws_iam_instance_profile" "training_host" {
  count = var.create_training_host_role ? 1 : 0

  name = "${var.name_prefix}-training-host"
  role = aws_iam_role.training_host[0].name
}
