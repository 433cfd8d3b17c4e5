output "rollback_alarm_names" {
  description = "Alarms that roll a model rollout back: endpoint 5XX errors and p99 model latency."
  value = tolist([
    aws_cloudwatch_metric_alarm.endpoint_5xx.alarm_name,
    aws_cloudwatch_metric_alarm.endpoint_latency_p99.alarm_name,
  ])
}

output "alarm_names" {
  description = "Every alarm of the module."
  value       = [for alarm in local.all_alarms : alarm.alarm_name]
}

output "dashboard_name" {
  description = "CloudWatch dashboard with the endpoint and Lambda metrics."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "topic_arn" {
  description = "SNS topic the alarms notify, or null."
  value       = one(aws_sns_topic.alarms[*].arn)
}

output "dashboard_metrics" {
  description = "\"<namespace> <metric>\" of every dashboard graph (for review and tests)."
  value       = toset(flatten([for w in local.widgets : [for m in w.metrics : "${m[0]} ${m[1]}"]]))
}

output "topic_kms_key_id" {
  description = "KMS key of the alarm topic, or null (no topic, or no server-side encryption)."
  # "" (unset, as some APIs read it back) reported as null, so a re-plan stays empty.
  value = one([for topic in aws_sns_topic.alarms : topic.kms_master_key_id == "" ? null : topic.kms_master_key_id])
}
