# Defence in depth (docs/security.md): customer-managed KMS key option, S3 server access logs,
# training host without a public IP in a given subnet. Each option on and off, plus bad input.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_ec2_instance_type_offerings" {
    defaults = { locations = ["us-east-1a"] }
  }
  mock_data "aws_subnets" {
    defaults = { ids = ["subnet-0a1b2c3d4e5f60718"] }
  }
  mock_data "aws_subnet" {
    defaults = { vpc_id = "vpc-0123456789abcdef0" }
  }
}

variables {
  lambda_zip_path      = "tests/fixtures/lambda_function.zip"
  model_data_url       = "s3://dog-breeds-123456789012-us-east-1/training-jobs/job-1/output/model.tar.gz"
  enable_training_host = true
  training_host_ami_id = "ami-0123456789abcdef0"
  create_alarm_topic   = true
}

# --- access logs ---

run "access_logging_is_on_by_default_into_a_created_log_bucket" {
  command = plan

  assert {
    condition     = output.access_log_bucket_name == "dog-breeds-123456789012-us-east-1-logs" && output.created_access_log_bucket_name == "dog-breeds-123456789012-us-east-1-logs"
    error_message = "By default the stack creates <bucket>-logs and delivers the access logs there."
  }

  assert {
    condition = jsondecode(output.bucket_policy_documents.access_logs).Statement[0] == {
      Sid       = "S3LogDeliveryForThisAccountsArtifactsBucketOnly"
      Effect    = "Allow"
      Principal = { Service = "logging.s3.amazonaws.com" }
      Action    = "s3:PutObject"
      Resource  = "arn:aws:s3:::dog-breeds-123456789012-us-east-1-logs/s3-access/*"
      Condition = {
        ArnLike      = { "aws:SourceArn" = "arn:aws:s3:::dog-breeds-123456789012-us-east-1" }
        StringEquals = { "aws:SourceAccount" = "123456789012" }
      }
    }
    error_message = "Only S3 log delivery for this account's artifacts bucket may write, only under s3-access/."
  }

  assert {
    condition     = jsondecode(output.bucket_policy_documents.access_logs).Statement[1].Sid == "DenyInsecureTransport" && jsondecode(output.bucket_policy_documents.access_logs).Statement[1].Effect == "Deny"
    error_message = "The log bucket must be TLS-only too."
  }
}

run "log_bucket_name_fits_63_characters" {
  command = plan

  variables {
    bucket_name = "a-very-long-artifacts-bucket-name-for-one-team-in-one-account-x"
  }

  assert {
    condition     = length(output.access_log_bucket_name) <= 63 && endswith(output.access_log_bucket_name, "-logs")
    error_message = "The created log bucket name must stay a valid bucket name (at most 63 characters)."
  }
}

run "access_logs_to_an_existing_bucket_create_none" {
  command = plan

  variables {
    access_log_bucket = "my-org-central-s3-logs"
  }

  assert {
    condition     = output.access_log_bucket_name == "my-org-central-s3-logs" && output.created_access_log_bucket_name == null && output.bucket_policy_documents.access_logs == null
    error_message = "A given log bucket is used as is: no bucket or policy is created for it."
  }
}

run "access_logging_off" {
  command = plan

  variables {
    enable_access_logging = false
  }

  assert {
    condition     = output.access_log_bucket_name == null && output.created_access_log_bucket_name == null
    error_message = "enable_access_logging = false must create no log bucket and no logging configuration."
  }
}

run "log_bucket_module_is_private_sse_s3_and_expiring" {
  command = plan

  module {
    source = "./modules/storage"
  }

  variables {
    bucket_name               = "dog-breeds-123456789012-us-east-1"
    policies_dir              = "../policies"
    access_log_bucket_name    = "dog-breeds-123456789012-us-east-1-logs"
    create_access_log_bucket  = true
    account_id                = "123456789012"
    access_log_retention_days = 30
  }

  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.access_logs[0].block_public_acls,
      aws_s3_bucket_public_access_block.access_logs[0].block_public_policy,
      aws_s3_bucket_public_access_block.access_logs[0].ignore_public_acls,
      aws_s3_bucket_public_access_block.access_logs[0].restrict_public_buckets,
    ]) && aws_s3_bucket_ownership_controls.access_logs[0].rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "The log bucket must block public access and disable ACLs."
  }

  assert {
    condition     = one(aws_s3_bucket_server_side_encryption_configuration.access_logs[0].rule).apply_server_side_encryption_by_default[0].sse_algorithm == "AES256"
    error_message = "S3 log delivery supports only SSE-S3 on the target bucket."
  }

  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.access_logs[0].rule[0].expiration[0].days == 30 && aws_s3_bucket_versioning.access_logs[0].versioning_configuration[0].status == "Enabled"
    error_message = "Access logs must be versioned and expire after access_log_retention_days."
  }

  assert {
    condition     = aws_s3_bucket.access_logs[0].force_destroy && aws_s3_bucket.artifacts.force_destroy == false
    error_message = "A created log bucket goes with the stack (logs arrive minutes late, so it cannot be emptied first); the artifacts bucket stays protected."
  }

  assert {
    condition     = aws_s3_bucket_logging.artifacts[0].target_bucket == "dog-breeds-123456789012-us-east-1-logs" && aws_s3_bucket_logging.artifacts[0].target_prefix == "s3-access/"
    error_message = "The artifacts bucket must log to the log bucket under s3-access/."
  }
}

run "creating_a_log_bucket_needs_its_name_and_the_account" {
  command = plan

  module {
    source = "./modules/storage"
  }

  variables {
    bucket_name              = "dog-breeds-123456789012-us-east-1"
    policies_dir             = "../policies"
    create_access_log_bucket = true
  }

  expect_failures = [var.create_access_log_bucket]
}

# --- customer-managed KMS key ---

run "aws_managed_encryption_by_default" {
  command = plan

  assert {
    condition     = output.encryption.bucket.sse_algorithm == "AES256" && output.encryption.bucket.bucket_key_enabled == false
    error_message = "Without kms_key_arn the bucket keeps SSE-S3."
  }

  assert {
    condition = alltrue([
      output.encryption.endpoint_volume_kms_key_arn == null,
      output.encryption.lambda_log_group_kms_key_id == null,
      output.encryption.alarm_topic_kms_key_id == null,
      output.encryption.training_host_root_volume == null,
    ])
    error_message = "Without kms_key_arn no resource names a customer-managed key."
  }

  assert {
    condition = alltrue(flatten([
      for doc in values(module.iam.policy_documents) : [
        for statement in jsondecode(doc).Statement : [
          for action in flatten([statement.Action]) : !startswith(action, "kms:")
        ]
      ]
    ]))
    error_message = "Without kms_key_arn no role holds a kms: permission."
  }
}

run "kms_key_everywhere_it_is_set" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-0000-4000-8000-0123456789ab"
  }

  assert {
    condition = output.encryption.bucket == {
      sse_algorithm      = "aws:kms"
      kms_key_arn        = "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-0000-4000-8000-0123456789ab"
      bucket_key_enabled = true
    }
    error_message = "With kms_key_arn the bucket defaults to SSE-KMS with that key and an S3 bucket key."
  }

  assert {
    condition = alltrue([for key in [
      output.encryption.endpoint_volume_kms_key_arn,
      output.encryption.lambda_log_group_kms_key_id,
      output.encryption.alarm_topic_kms_key_id,
      output.encryption.training_host_root_volume,
    ] : key == "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-0000-4000-8000-0123456789ab"])
    error_message = "The key must encrypt the endpoint volume, the Lambda log group, the alarm topic and the host's root volume."
  }

  # Roles that read or write bucket objects may use exactly this key, and only through S3.
  assert {
    condition = alltrue([for role in ["training", "serving", "training_host"] : jsonencode([
      for s in jsondecode(module.iam.policy_documents[role]).Statement : s
      if s.Sid == "UseTheStackKeyThroughS3Only"
      ][0]) == jsonencode({
      Sid       = "UseTheStackKeyThroughS3Only"
      Effect    = "Allow"
      Action    = role == "serving" ? ["kms:Decrypt"] : ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource  = "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-0000-4000-8000-0123456789ab"
      Condition = { StringEquals = { "kms:ViaService" = "s3.us-east-1.amazonaws.com" } }
    })])
    error_message = "Training and the EC2 host may decrypt and encrypt with the key, serving (without data capture) only decrypt; all only through S3."
  }

  assert {
    condition     = !strcontains(module.iam.policy_documents.lambda, "kms:")
    error_message = "The Lambda role needs no key access: the logs service encrypts its log group under the key policy."
  }

  assert {
    condition     = jsondecode(output.bucket_policy_documents.artifacts).Statement[0].Sid == "DenyInsecureTransport"
    error_message = "The TLS-only bucket policy must stay with SSE-KMS."
  }
}

run "serving_encrypts_with_the_key_only_when_it_captures_data" {
  command = plan

  variables {
    kms_key_arn                   = "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-0000-4000-8000-0123456789ab"
    data_capture_sampling_percent = 5
  }

  assert {
    condition = [
      for s in jsondecode(module.iam.policy_documents.serving).Statement : s.Action
      if s.Sid == "UseTheStackKeyThroughS3Only"
    ] == [["kms:Decrypt", "kms:GenerateDataKey"]]
    error_message = "With data capture on, the serving role must also encrypt (GenerateDataKey) with the key."
  }
}

run "kms_alias_is_rejected" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:alias/dogops"
  }

  expect_failures = [var.kms_key_arn]
}

run "kms_key_from_another_region_is_rejected" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-0000-4000-8000-0123456789ab"
  }

  expect_failures = [var.kms_key_arn]
}

run "bad_access_log_bucket_is_rejected" {
  command = plan

  variables {
    access_log_bucket = "Central_Logs"
  }

  expect_failures = [var.access_log_bucket]
}

# --- training host network ---

run "training_host_in_a_given_subnet_has_no_public_ip" {
  command = plan

  variables {
    training_host_subnet_id = "subnet-0123456789abcdef0"
  }

  assert {
    condition     = output.training_host_public_ip == false
    error_message = "In a subnet the team gives, the host must not get a public IP address."
  }
}

run "training_host_in_the_default_vpc_keeps_the_subnet_setting" {
  command = plan

  assert {
    condition     = output.training_host_public_ip == null
    error_message = "Without a subnet (default VPC, no other route out) the subnet's own public-IP setting applies."
  }
}
