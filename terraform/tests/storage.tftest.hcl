# The artifacts bucket: private, encrypted, versioned, TLS-only, with noncurrent-version expiry.

mock_provider "aws" {}

variables {
  bucket_name  = "dog-breeds-123456789012-us-east-1"
  policies_dir = "../policies"
}

run "bucket_is_private_encrypted_and_versioned" {
  command = plan

  module {
    source = "./modules/storage"
  }

  override_resource {
    target          = aws_s3_bucket.artifacts
    override_during = plan
    values = {
      id  = "dog-breeds-123456789012-us-east-1"
      arn = "arn:aws:s3:::dog-breeds-123456789012-us-east-1"
    }
  }

  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.artifacts.block_public_acls,
      aws_s3_bucket_public_access_block.artifacts.block_public_policy,
      aws_s3_bucket_public_access_block.artifacts.ignore_public_acls,
      aws_s3_bucket_public_access_block.artifacts.restrict_public_buckets,
    ])
    error_message = "All four public access block settings must be on."
  }

  assert {
    condition     = aws_s3_bucket_ownership_controls.artifacts.rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "ACLs must be disabled (BucketOwnerEnforced)."
  }

  assert {
    condition     = one(aws_s3_bucket_server_side_encryption_configuration.artifacts.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "AES256"
    error_message = "Default encryption must be on (SSE-S3)."
  }

  assert {
    condition     = aws_s3_bucket_versioning.artifacts.versioning_configuration[0].status == "Enabled"
    error_message = "Versioning must be enabled."
  }

  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.artifacts.rule[0].noncurrent_version_expiration[0].noncurrent_days == 30 && aws_s3_bucket_lifecycle_configuration.artifacts.rule[0].status == "Enabled"
    error_message = "Noncurrent versions must expire (default 30 days)."
  }

  assert {
    condition     = aws_s3_bucket.artifacts.force_destroy == false
    error_message = "A real bucket must not be force-destroyable by default."
  }

  assert {
    condition = jsondecode(aws_s3_bucket_policy.tls_only.policy).Statement == [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource = [
        "arn:aws:s3:::dog-breeds-123456789012-us-east-1",
        "arn:aws:s3:::dog-breeds-123456789012-us-east-1/*",
      ]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
    error_message = "The bucket policy must only deny non-TLS access to the bucket and its objects."
  }
}

run "bad_bucket_name_is_rejected" {
  command = plan

  module {
    source = "./modules/storage"
  }

  variables {
    bucket_name = "Dog_Breeds"
  }

  expect_failures = [var.bucket_name]
}
