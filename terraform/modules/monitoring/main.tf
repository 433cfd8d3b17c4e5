# Alarms and a dashboard for the endpoint and the Lambda front door, plus an optional SNS topic.
#
# Two of the endpoint alarms (5XX errors, p99 model latency) are the rollback alarms of the
# endpoint's blue/green deployment: while a new model bakes, either going to ALARM makes SageMaker
# shift all traffic back to the old fleet. All alarms notify the topic when one is created.

locals {
  endpoint_dimensions = { EndpointName = var.endpoint_name, VariantName = var.variant_name }
  lambda_dimensions   = { FunctionName = var.function_name }
  actions             = var.create_topic ? [aws_sns_topic.alarms[0].arn] : []
  prefix              = var.endpoint_name
}

resource "aws_sns_topic" "alarms" {
  #checkov:skip=CKV_AWS_26:Encryption at rest is an option (root variable kms_key_arn, default null = no SNS server-side encryption): CloudWatch cannot publish to the AWS-managed aws/sns key, only to a customer-managed key whose policy allows cloudwatch.amazonaws.com; notifications carry alarm names and states only.
  count = var.create_topic ? 1 : 0
  name  = "${local.prefix}-alarms"
  # CloudWatch alarms publish only to topics under a customer-managed key that allows them.
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = var.create_topic ? toset(var.alarm_emails) : toset([])
  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = each.value
}

# --- endpoint --------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "endpoint_5xx" {
  alarm_name          = "${local.prefix}-5xx-errors"
  alarm_description   = "The model answered with 5XX errors (rollback alarm of a rollout)."
  namespace           = "AWS/SageMaker"
  metric_name         = "Invocation5XXErrors"
  dimensions          = local.endpoint_dimensions
  statistic           = "Sum"
  period              = var.period_s
  evaluation_periods  = 1
  threshold           = var.endpoint_5xx_errors
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "endpoint_latency_p99" {
  alarm_name          = "${local.prefix}-model-latency-p99"
  alarm_description   = "p99 ModelLatency above ${var.endpoint_latency_p99_ms} ms (rollback alarm of a rollout)."
  namespace           = "AWS/SageMaker"
  metric_name         = "ModelLatency"
  dimensions          = local.endpoint_dimensions
  extended_statistic  = "p99"
  period              = var.period_s
  evaluation_periods  = 1
  threshold           = var.endpoint_latency_p99_ms * 1000 # ModelLatency is in microseconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "endpoint_4xx_rate" {
  alarm_name          = "${local.prefix}-4xx-rate"
  alarm_description   = "More than ${var.endpoint_4xx_rate_percent}% of invocations answered 4XX (bad requests or a client regression)."
  evaluation_periods  = 1
  threshold           = var.endpoint_4xx_rate_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id          = "rate"
    expression  = "IF(invocations > 0, 100 * errors / invocations, 0)"
    label       = "4XX errors per 100 invocations"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/SageMaker"
      metric_name = "Invocation4XXErrors"
      dimensions  = local.endpoint_dimensions
      period      = var.period_s
      stat        = "Sum"
    }
  }

  metric_query {
    id = "invocations"
    metric {
      namespace   = "AWS/SageMaker"
      metric_name = "Invocations"
      dimensions  = local.endpoint_dimensions
      period      = var.period_s
      stat        = "Sum"
    }
  }
}

# --- Lambda ----------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  alarm_name          = "${var.function_name}-errors"
  alarm_description   = "The Lambda front door failed (unhandled errors or timeouts)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = local.lambda_dimensions
  statistic           = "Sum"
  period              = var.period_s
  evaluation_periods  = 1
  threshold           = var.lambda_errors
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "lambda_throttles" {
  alarm_name          = "${var.function_name}-throttles"
  alarm_description   = "Requests were throttled: reserved/provisioned concurrency is too low for the load."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = local.lambda_dimensions
  statistic           = "Sum"
  period              = var.period_s
  evaluation_periods  = 1
  threshold           = var.lambda_throttles
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "lambda_duration_p99" {
  alarm_name          = "${var.function_name}-duration-p99"
  alarm_description   = "p99 Lambda duration above ${var.lambda_duration_p99_ms} ms."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = local.lambda_dimensions
  extended_statistic  = "p99"
  period              = var.period_s
  evaluation_periods  = 1
  threshold           = var.lambda_duration_p99_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

# --- dashboard -------------------------------------------------------------------------------

locals {
  endpoint_metric = ["AWS/SageMaker", "__NAME__", "EndpointName", var.endpoint_name, "VariantName", var.variant_name]
  lambda_metric   = ["AWS/Lambda", "__NAME__", "FunctionName", var.function_name]
  widgets = [
    { title = "Endpoint invocations and errors", metrics = [
      for name in ["Invocations", "Invocation4XXErrors", "Invocation5XXErrors"] :
      [for part in local.endpoint_metric : part == "__NAME__" ? name : part]
    ], stat = "Sum" },
    { title = "Endpoint ModelLatency p99 (µs)", metrics = [
      [for part in local.endpoint_metric : part == "__NAME__" ? "ModelLatency" : part]
    ], stat = "p99" },
    { title = "Lambda errors and throttles", metrics = [
      for name in ["Invocations", "Errors", "Throttles"] :
      [for part in local.lambda_metric : part == "__NAME__" ? name : part]
    ], stat = "Sum" },
    { title = "Lambda duration p99 (ms)", metrics = [
      [for part in local.lambda_metric : part == "__NAME__" ? "Duration" : part]
    ], stat = "p99" },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${local.prefix}-dashboard"
  dashboard_body = jsonencode({
    widgets = concat(
      [for index, widget in local.widgets : {
        type   = "metric"
        x      = (index % 2) * 12
        y      = floor(index / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = widget.title
          region  = var.region
          metrics = widget.metrics
          stat    = widget.stat
          period  = var.period_s
          view    = "timeSeries"
        }
      }],
      [{
        type   = "alarm"
        x      = 0
        y      = 12
        width  = 24
        height = 3
        properties = {
          title  = "Alarms"
          alarms = [for alarm in local.all_alarms : alarm.arn]
        }
      }]
    )
  })
}

locals {
  all_alarms = [
    aws_cloudwatch_metric_alarm.endpoint_5xx,
    aws_cloudwatch_metric_alarm.endpoint_latency_p99,
    aws_cloudwatch_metric_alarm.endpoint_4xx_rate,
    aws_cloudwatch_metric_alarm.lambda_errors,
    aws_cloudwatch_metric_alarm.lambda_throttles,
    aws_cloudwatch_metric_alarm.lambda_duration_p99,
  ]
}
