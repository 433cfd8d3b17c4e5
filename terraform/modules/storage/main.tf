# One private bucket holds the dataset (data/), training code (code/), SageMaker job output
# (training-jobs/), spot checkpoints (checkpoints/) and EC2 host artifacts (models/ec2/).

locals {
  bucket_arn = "arn:${var.partition}:s3:::${var.bucket_name}"
}

resource "aws_s3_bucket" "artifacts" {
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage cost; the dataset is reproducible and models are re-trainable.
  #checkov:skip=CKV_AWS_145:SSE-KMS with a customer-managed key is an option (root variable kms_key_arn, default null = SSE-S3): the key's policy and per-request cost are the team's choice; see docs/security.md.
  #checkov:skip=CKV2_AWS_62:No consumer for bucket event notifications; the tooling drives every step explicitly.

  bucket        = var.bucket_name
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_ownership_controls" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    # ACLs off: access is decided by IAM and the bucket policy alone.
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    # One data key per bucket instead of a KMS request per object: far fewer KMS calls and cost.
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_versioning" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  # Lifecycle rules act on versions, so versioning must exist first.
  depends_on = [aws_s3_bucket_versioning.artifacts]
}

# The one `s3:*` in the repository is this Deny: it takes rights away (every S3 action over plain
# HTTP), it grants none. AWS Config's s3-bucket-ssl-requests-only expects exactly this statement;
# listing actions instead would leave any action not listed allowed over HTTP.
resource "aws_s3_bucket_policy" "tls_only" {
  bucket = aws_s3_bucket.artifacts.id
  # The ARN is built from the name (not read from the bucket) so the plan shows the document
  # and the policy check (make policy-check) can read it.
  policy = templatefile("${var.policies_dir}/bucket_tls_only.json.tftpl", {
    bucket_arn = local.bucket_arn
  })

  # A bucket policy PUT races the public access block on a fresh bucket.
  depends_on = [aws_s3_bucket_public_access_block.artifacts]
}

# --- Server access logs (on by default: root variable enable_access_logging) ---
# Every request to the artifacts bucket (who read which model or image, from where) lands in a
# log bucket: created here (private, SSE-S3, expiring) or one the team already has.

locals {
  log_bucket_arn = var.access_log_bucket_name == null ? null : "arn:${var.partition}:s3:::${var.access_log_bucket_name}"
}

resource "aws_s3_bucket" "access_logs" {
  count = var.create_access_log_bucket ? 1 : 0

  #checkov:skip=CKV_AWS_18:This is the access-log bucket itself; logging it into itself would log its own log deliveries forever.
  #checkov:skip=CKV_AWS_144:Access logs are audit records of this region's bucket; cross-region replication doubles their cost.
  #checkov:skip=CKV_AWS_145:S3 delivers server access logs only to buckets with SSE-S3 default encryption (SSE-KMS is not supported for the log target).
  #checkov:skip=CKV2_AWS_62:No consumer for notifications on log deliveries.
  bucket = var.access_log_bucket_name
  # The logs of a stack go with it. Emptying the bucket before a destroy cannot work: S3 delivers
  # logs minutes after the requests, so the destroy's own requests would land in it meanwhile.
  # To keep logs beyond the stack, deliver them to a long-lived bucket (access_log_bucket).
  force_destroy = true
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  count  = var.create_access_log_bucket ? 1 : 0
  bucket = aws_s3_bucket.access_logs[0].id

  rule {
    # Log delivery is granted by the bucket policy below; ACLs stay off.
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  count  = var.create_access_log_bucket ? 1 : 0
  bucket = aws_s3_bucket.access_logs[0].id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  count  = var.create_access_log_bucket ? 1 : 0
  bucket = aws_s3_bucket.access_logs[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256" # the only default encryption S3 log delivery supports
    }
  }
}

resource "aws_s3_bucket_versioning" "access_logs" {
  count  = var.create_access_log_bucket ? 1 : 0
  bucket = aws_s3_bucket.access_logs[0].id

  versioning_configuration {
    status = "Enabled" # an audit trail must survive an accidental overwrite or delete
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  count  = var.create_access_log_bucket ? 1 : 0
  bucket = aws_s3_bucket.access_logs[0].id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.access_log_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}

resource "aws_s3_bucket_policy" "access_logs" {
  count  = var.create_access_log_bucket ? 1 : 0
  bucket = aws_s3_bucket.access_logs[0].id
  # Only S3's logging service may write, only under the prefix, and only for this account's
  # artifacts bucket (aws:SourceArn / aws:SourceAccount: no confused deputy); TLS only.
  policy = templatefile("${var.policies_dir}/bucket_access_logs.json.tftpl", {
    bucket_arn        = local.log_bucket_arn
    log_object_arn    = "${local.log_bucket_arn}/${var.access_log_prefix}*"
    source_bucket_arn = local.bucket_arn
    source_account    = var.account_id
  })

  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}

resource "aws_s3_bucket_logging" "artifacts" {
  count  = var.access_log_bucket_name == null ? 0 : 1
  bucket = aws_s3_bucket.artifacts.id

  target_bucket = var.access_log_bucket_name
  target_prefix = var.access_log_prefix

  # S3 checks at PUT time that the target bucket lets the logging service write.
  depends_on = [aws_s3_bucket_policy.access_logs]
}
