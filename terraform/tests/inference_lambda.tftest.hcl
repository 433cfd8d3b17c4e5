# The Lambda front door: published version behind an alias, concurrency, SnapStart, function URL.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
}

variables {
  function_name = "dog-breeds-predict"
  role_arn      = "arn:aws:iam::123456789012:role/dog-breeds-lambda"
  zip_path      = "tests/fixtures/lambda_function.zip"
  endpoint_name = "dog-breeds-endpoint"
}

run "defaults_reserved_plus_provisioned_concurrency_on_alias" {
  command = plan

  module {
    source = "./modules/inference_lambda"
  }

  assert {
    condition     = aws_lambda_function.this.publish && aws_lambda_function.this.reserved_concurrent_executions == 10
    error_message = "The function must publish versions and reserve 10 concurrent executions by default."
  }

  assert {
    condition     = length(aws_lambda_provisioned_concurrency_config.live) == 1 && aws_lambda_provisioned_concurrency_config.live[0].provisioned_concurrent_executions == 1 && aws_lambda_provisioned_concurrency_config.live[0].qualifier == "live"
    error_message = "Provisioned concurrency (default 1) must sit on the live alias."
  }

  assert {
    condition     = aws_lambda_alias.live.name == "live" && aws_lambda_alias.live.function_name == "dog-breeds-predict"
    error_message = "The live alias must front the function."
  }

  assert {
    condition     = length(aws_lambda_function.this.snap_start) == 0
    error_message = "SnapStart must be off by default (AWS does not combine it with provisioned concurrency)."
  }

  assert {
    condition     = length(aws_lambda_function_url.live) == 0 && output.function_url == null
    error_message = "No function URL unless enable_function_url is set."
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables == tomap({ ENDPOINT_NAME = "dog-breeds-endpoint", TOP_K = "3" })
    error_message = "The endpoint name must come from Terraform through ENDPOINT_NAME."
  }

  assert {
    condition     = aws_lambda_function.this.source_code_hash == filebase64sha256("tests/fixtures/lambda_function.zip") && aws_lambda_function.this.handler == "lambda_function.lambda_handler"
    error_message = "The function must deploy the pre-built zip, keyed by its hash."
  }

  assert {
    condition     = aws_lambda_function.this.runtime == "python3.12" && aws_lambda_function.this.memory_size == 256 && aws_lambda_function.this.timeout == 40
    error_message = "Runtime, memory and timeout defaults changed."
  }

  assert {
    condition     = aws_cloudwatch_log_group.function.name == "/aws/lambda/dog-breeds-predict" && aws_cloudwatch_log_group.function.retention_in_days == 30
    error_message = "The function's log group must exist with a retention."
  }
}

run "snapstart_instead_of_provisioned_concurrency" {
  command = plan

  module {
    source = "./modules/inference_lambda"
  }

  variables {
    enable_snapstart        = true
    provisioned_concurrency = 0
    runtime                 = "python3.13"
  }

  assert {
    condition     = aws_lambda_function.this.snap_start[0].apply_on == "PublishedVersions"
    error_message = "SnapStart must apply to published versions."
  }

  assert {
    condition     = length(aws_lambda_provisioned_concurrency_config.live) == 0
    error_message = "SnapStart runs must have no provisioned concurrency."
  }
}

run "function_url_uses_aws_iam_auth" {
  command = plan

  module {
    source = "./modules/inference_lambda"
  }

  variables {
    enable_function_url = true
  }

  assert {
    condition     = aws_lambda_function_url.live[0].authorization_type == "AWS_IAM" && aws_lambda_function_url.live[0].qualifier == "live"
    error_message = "The function URL must require AWS_IAM (SigV4) auth and point at the live alias."
  }
}

run "root_wires_lambda_settings" {
  command = plan

  variables {
    lambda_zip_path         = "tests/fixtures/lambda_function.zip"
    reserved_concurrency    = 20
    provisioned_concurrency = 5
    lambda_memory_mb        = 512
    lambda_timeout_s        = 20
  }

  assert {
    condition     = output.function_name == "dog-breeds-predict" && output.function_url == null
    error_message = "The root must name the function <project>-predict and create no URL by default."
  }
}

run "module_rejects_snapstart_with_provisioned_concurrency" {
  command = plan

  module {
    source = "./modules/inference_lambda"
  }

  variables {
    enable_snapstart        = true
    provisioned_concurrency = 2
  }

  expect_failures = [var.enable_snapstart]
}

run "module_rejects_provisioned_above_reserved" {
  command = plan

  module {
    source = "./modules/inference_lambda"
  }

  variables {
    reserved_concurrency    = 2
    provisioned_concurrency = 3
  }

  expect_failures = [var.provisioned_concurrency]
}
