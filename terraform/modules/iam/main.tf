# Four roles, each allowed exactly what its job needs. Policy documents live in policies/ as
# JSON templates so a reviewer reads the same text AWS receives. Training and serving are separate
# roles: the endpoint's container answers untrusted requests, so it must not be able to read the
# training data or overwrite the archives it (or a later model) is served from.

locals {
  arn_prefix = "arn:${var.partition}"
  logs_arn   = "${local.arn_prefix}:logs:${var.region}:${var.account_id}:log-group"

  # S3 layout (docs/DESIGN.md): data/, code/, training-jobs/, checkpoints/, models/.
  training_list_prefixes = ["data/*", "code/*", "training-jobs/*", "checkpoints/*"]
  training_read_objects  = [for p in local.training_list_prefixes : "${var.bucket_arn}/${p}"]
  training_write_objects = ["${var.bucket_arn}/training-jobs/*", "${var.bucket_arn}/checkpoints/*"]

  # What an endpoint may serve: a training job's archive, or one under models/ (EC2 runs,
  # promoted copies). Nothing else in the bucket is readable with the serving role.
  serving_model_objects = [
    "${var.bucket_arn}/training-jobs/*/output/model.tar.gz",
    "${var.bucket_arn}/models/*",
  ]
  # Endpoint data capture writes here only when it is enabled.
  serving_capture_objects = var.data_capture_prefix == null ? [] : ["${var.bucket_arn}/${var.data_capture_prefix}*"]

  # Training jobs share one log group (a stream per job); the endpoint logs to its own group.
  training_log_groups = [
    "${local.logs_arn}:/aws/sagemaker/TrainingJobs",
    "${local.logs_arn}:/aws/sagemaker/TrainingJobs:*",
  ]
  serving_log_groups = [
    "${local.logs_arn}:/aws/sagemaker/Endpoints/${var.endpoint_name}",
    "${local.logs_arn}:/aws/sagemaker/Endpoints/${var.endpoint_name}:*",
  ]
  metric_namespaces = ["/aws/sagemaker/*"]

  # SageMaker endpoint ARNs carry the name in lower case.
  endpoint_arn = "${local.arn_prefix}:sagemaker:${var.region}:${var.account_id}:endpoint/${lower(var.endpoint_name)}"

  host_list_prefixes = ["code/*", "data/*"]

  # Customer-managed key (root variable kms_key_arn): each role may use it only through S3
  # (kms:ViaService), to read what it may read and encrypt what it may write. "" = no key.
  kms_key_arn     = var.kms_key_arn == null ? "" : var.kms_key_arn
  kms_via_service = "s3.${var.region}.amazonaws.com"
  kms_read_write  = ["kms:Decrypt", "kms:GenerateDataKey"]

  sagemaker_trust_policy = templatefile("${var.policies_dir}/assume_role.json.tftpl", {
    service        = "sagemaker.amazonaws.com"
    source_account = var.account_id
  })
}

# Two statements in each SageMaker policy use Resource "*" because the actions have no
# resource-level permissions: ecr:GetAuthorizationToken (registry login) and
# cloudwatch:PutMetricData (narrowed instead by a cloudwatch:namespace condition to /aws/sagemaker/*).

# --- SageMaker training role (training and tuning jobs) ---

resource "aws_iam_role" "sagemaker_training" {
  name               = "${var.name_prefix}-sagemaker-training"
  assume_role_policy = local.sagemaker_trust_policy
}

resource "aws_iam_role_policy" "sagemaker_training" {
  name = "read-data-write-job-output"
  role = aws_iam_role.sagemaker_training.id
  policy = templatefile("${var.policies_dir}/sagemaker_training.json.tftpl", {
    bucket_arn          = var.bucket_arn
    list_prefixes       = local.training_list_prefixes
    read_object_arns    = local.training_read_objects
    write_object_arns   = local.training_write_objects
    ecr_repository_arns = var.training_ecr_repository_arns
    log_group_arns      = local.training_log_groups
    metric_namespaces   = local.metric_namespaces
    kms_key_arn         = local.kms_key_arn
    kms_actions         = local.kms_read_write
    kms_via_service     = local.kms_via_service
  })
}

# --- SageMaker serving role (the endpoint's model) ---

resource "aws_iam_role" "sagemaker_serving" {
  name               = "${var.name_prefix}-sagemaker-serving"
  assume_role_policy = local.sagemaker_trust_policy
}

resource "aws_iam_role_policy" "sagemaker_serving" {
  name = "read-model-archives"
  role = aws_iam_role.sagemaker_serving.id
  policy = templatefile("${var.policies_dir}/sagemaker_serving.json.tftpl", {
    model_object_arns   = local.serving_model_objects
    capture_object_arns = local.serving_capture_objects
    ecr_repository_arns = var.serving_ecr_repository_arns
    log_group_arns      = local.serving_log_groups
    metric_namespaces   = local.metric_namespaces
    kms_key_arn         = local.kms_key_arn
    # read model archives; encrypt captured data only when data capture is on
    kms_actions     = var.data_capture_prefix == null ? ["kms:Decrypt"] : local.kms_read_write
    kms_via_service = local.kms_via_service
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
    kms_key_arn      = local.kms_key_arn
    kms_actions      = local.kms_read_write
    kms_via_service  = local.kms_via_service
  })
}

resource "aws_iam_instance_profile" "training_host" {
  count = var.create_training_host_role ? 1 : 0

  name = "${var.name_prefix}-training-host"
  role = aws_iam_role.training_host[0].name
}
