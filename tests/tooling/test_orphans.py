"""Finding what an interrupted apply created but did not record (dogops.orphans)."""

from dogops.orphans import import_commands, orphans_in

# Trimmed from a real re-run after Ctrl-C (Terraform 1.11, aws provider 5.100, the emulator).
STDERR = """
Error: creating IAM Role (dog-breeds-sagemaker-execution): operation error IAM: CreateRole, https response error StatusCode: 409, RequestID: x, EntityAlreadyExists: Role with name dog-breeds-sagemaker-execution already exists.

  with module.iam.aws_iam_role.sagemaker_execution,
  on modules/iam/main.tf line 29, in resource "aws_iam_role" "sagemaker_execution":
  29: resource "aws_iam_role" "sagemaker_execution" {


Error: creating S3 Bucket (dog-breeds-123456789012-us-east-1): BucketAlreadyExists

  with module.storage.aws_s3_bucket.artifacts,
  on modules/storage/main.tf line 4, in resource "aws_s3_bucket" "artifacts":
   4: resource "aws_s3_bucket" "artifacts" {


Error: creating Lambda Function (dog-breeds-predict): operation error Lambda: CreateFunction, https response error StatusCode: 400, InvalidParameterValueException: bad runtime

  with module.inference_lambda.aws_lambda_function.this,
  on modules/inference_lambda/main.tf line 19, in resource "aws_lambda_function" "this":
"""


def test_already_exists_errors_become_address_and_import_id():
    assert orphans_in(STDERR) == [
        ("module.iam.aws_iam_role.sagemaker_execution", "dog-breeds-sagemaker-execution"),
        ("module.storage.aws_s3_bucket.artifacts", "dog-breeds-123456789012-us-east-1"),
    ]  # the Lambda error is a real failure, not an orphan


def test_other_failures_are_not_orphans():
    assert orphans_in("Error: reading IAM Role (x): AccessDenied\n\n  with module.a.b,\n") == []
    assert orphans_in("") == []


def test_import_commands_are_shown_for_aws():
    text = import_commands([("module.storage.aws_s3_bucket.artifacts", "b")])
    assert text == "  terraform import 'module.storage.aws_s3_bucket.artifacts' 'b'"
