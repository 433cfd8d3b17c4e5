# The front door: a published function version behind the "live" alias, with reserved
# concurrency (a cap that protects the endpoint) and either provisioned concurrency or SnapStart
# on the alias to keep cold starts out of the request path.

locals {
  alias_name     = "live"
  log_group_name = "/aws/lambda/${var.function_name}"
}

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:A customer-managed key is an option (root variable kms_key_arn, default null = CloudWatch Logs' own encryption); log lines hold request ids, latencies and status codes, never image bytes.
  #checkov:skip=CKV_AWS_338:Per-request logs lose their value after weeks; retention is a variable (default 30 days) to keep cost bounded.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  # The logs service encrypts with the key: the key policy must allow logs.<region>.amazonaws.com.
  kms_key_id = var.kms_key_arn
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_50:Every request writes one structured JSON log line (request id, latency, endpoint, status); X-Ray would need an xray:Put* grant on Resource "*".
  #checkov:skip=CKV_AWS_116:The function is invoked synchronously (alias or function URL); a dead-letter queue only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_117:The function only calls the SageMaker runtime API; a VPC would add NAT or interface endpoints and cold-start cost without narrowing access.
  #checkov:skip=CKV_AWS_173:The environment holds the endpoint name and top-k default only, no secrets.
  #checkov:skip=CKV_AWS_272:The zip is built deterministically from reviewed sources in this repository; code signing needs a signing profile outside this stack.
  function_name    = var.function_name
  role             = var.role_arn
  filename         = var.zip_path
  source_code_hash = filebase64sha256(var.zip_path)
  handler          = "lambda_function.lambda_handler"
  runtime          = var.runtime
  memory_size      = var.memory_mb
  timeout          = var.timeout_s
  publish          = true

  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = {
      ENDPOINT_NAME = var.endpoint_name
      TOP_K         = tostring(var.top_k)
    }
  }

  dynamic "snap_start" {
    for_each = var.enable_snapstart ? ["PublishedVersions"] : []
    content {
      apply_on = snap_start.value
    }
  }

  # The function logs to /aws/lambda/<name>; create that group (with retention) first so Lambda
  # never creates an unmanaged one that keeps logs forever.
  depends_on = [aws_cloudwatch_log_group.function]
}

resource "aws_lambda_alias" "live" {
  name             = local.alias_name
  description      = "Published version that serves traffic."
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version
}

resource "aws_lambda_provisioned_concurrency_config" "live" {
  count = var.provisioned_concurrency > 0 ? 1 : 0

  function_name                     = aws_lambda_function.this.function_name
  qualifier                         = aws_lambda_alias.live.name
  provisioned_concurrent_executions = var.provisioned_concurrency
}

resource "aws_lambda_function_url" "live" {
  count = var.enable_function_url ? 1 : 0

  function_name = aws_lambda_function.this.function_name
  qualifier     = aws_lambda_alias.live.name
  # Only SigV4-signed callers with lambda:InvokeFunctionUrl on this function get through.
  authorization_type = "AWS_IAM"
}
