# One private bucket holds the dataset (data/), training code (code/), SageMaker job output
# (training-jobs/), spot checkpoints (checkpoints/) and EC2 host artifacts (models/ec2/).

locals {
  bucket_arn = "arn:${var.partition}:s3:::${var.bucket_name}"
}

resource "aws_s3_bucket" "artifacts" {
  #checkov:skip=CKV_AWS_18:Server access logging needs a second bucket per stack; audit object access with account-level CloudTrail S3 data events instead.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage cost; the dataset is reproducible and models are re-trainable.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES-256) is enforced; a customer-managed KMS key adds a key policy and per-request cost without changing who can read through IAM.
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
      sse_algorithm = "AES256"
    }
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
