# Alarms, dashboard and the optional SNS topic.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
}

run "alarms_on_endpoint_and_lambda_metrics" {
  command = plan

  module {
    source = "./modules/monitoring"
  }

  variables {
    endpoint_name           = "dog-breeds-endpoint"
    function_name           = "dog-breeds-predict"
    region                  = "us-east-1"
    endpoint_latency_p99_ms = 800
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.endpoint_5xx.metric_name == "Invocation5XXErrors" &&
      aws_cloudwatch_metric_alarm.endpoint_5xx.namespace == "AWS/SageMaker" &&
      aws_cloudwatch_metric_alarm.endpoint_5xx.statistic == "Sum" &&
      aws_cloudwatch_metric_alarm.endpoint_5xx.threshold == 1 &&
      aws_cloudwatch_metric_alarm.endpoint_5xx.dimensions == tomap({ EndpointName = "dog-breeds-endpoint", VariantName = "AllTraffic" })
    )
    error_message = "The 5XX alarm must sum Invocation5XXErrors of the endpoint variant."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.endpoint_latency_p99.metric_name == "ModelLatency" && aws_cloudwatch_metric_alarm.endpoint_latency_p99.extended_statistic == "p99" && aws_cloudwatch_metric_alarm.endpoint_latency_p99.threshold == 800000
    error_message = "The latency alarm must watch p99 ModelLatency, converted from ms to microseconds."
  }

  assert {
    condition = (
      length(aws_cloudwatch_metric_alarm.endpoint_4xx_rate.metric_query) == 3 &&
      strcontains(one([for q in aws_cloudwatch_metric_alarm.endpoint_4xx_rate.metric_query : q.expression if q.return_data == true]), "100 * errors / invocations") &&
      toset(flatten([for q in aws_cloudwatch_metric_alarm.endpoint_4xx_rate.metric_query : [for m in q.metric : m.metric_name]])) == toset(["Invocation4XXErrors", "Invocations"])
    )
    error_message = "The 4XX alarm must be a rate: 100 * Invocation4XXErrors / Invocations."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.lambda_errors.metric_name == "Errors" &&
      aws_cloudwatch_metric_alarm.lambda_throttles.metric_name == "Throttles" &&
      aws_cloudwatch_metric_alarm.lambda_duration_p99.metric_name == "Duration" &&
      aws_cloudwatch_metric_alarm.lambda_duration_p99.extended_statistic == "p99" &&
      aws_cloudwatch_metric_alarm.lambda_errors.dimensions == tomap({ FunctionName = "dog-breeds-predict" })
    )
    error_message = "Lambda Errors, Throttles and p99 Duration must be watched."
  }

  assert {
    condition     = length(aws_sns_topic.alarms) == 0 && length(aws_cloudwatch_metric_alarm.endpoint_5xx.alarm_actions) == 0
    error_message = "No topic (and no alarm actions) unless asked for."
  }

  assert {
    condition = output.dashboard_metrics == toset([
      "AWS/SageMaker Invocations", "AWS/SageMaker Invocation4XXErrors", "AWS/SageMaker Invocation5XXErrors",
      "AWS/SageMaker ModelLatency", "AWS/Lambda Invocations", "AWS/Lambda Errors", "AWS/Lambda Throttles",
      "AWS/Lambda Duration",
    ]) && output.dashboard_name == "dog-breeds-endpoint-dashboard"
    error_message = "The dashboard must show the endpoint and Lambda metrics and the alarms."
  }

  assert {
    condition     = output.rollback_alarm_names == tolist(["dog-breeds-endpoint-5xx-errors", "dog-breeds-endpoint-model-latency-p99"]) && length(output.alarm_names) == 6
    error_message = "Six alarms, two of which roll rollouts back."
  }
}

run "topic_notifies_on_alarm_and_ok" {
  command = plan

  module {
    source = "./modules/monitoring"
  }

  variables {
    endpoint_name = "dog-breeds-endpoint"
    function_name = "dog-breeds-predict"
    region        = "us-east-1"
    create_topic  = true
    alarm_emails  = ["oncall@example.com"]
  }

  assert {
    condition     = length(aws_sns_topic.alarms) == 1 && aws_sns_topic_subscription.email["oncall@example.com"].protocol == "email"
    error_message = "create_topic must create the topic and one e-mail subscription per address."
  }
}

run "root_creates_monitoring_by_default" {
  command = plan

  variables {
    lambda_zip_path = "tests/fixtures/lambda_function.zip"
  }

  assert {
    condition     = length(module.monitoring) == 1 && output.dashboard_name == "dog-breeds-endpoint-dashboard" && output.alarm_topic_arn == null
    error_message = "Monitoring is on by default, without a topic."
  }
}
