# Least privilege, checked on the rendered policy documents of all three roles.

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
}

variables {
  lambda_zip_path      = "tests/fixtures/lambda_function.zip"
  enable_training_host = true
  training_host_ami_id = "ami-0123456789abcdef0"
}

run "no_wildcard_actions_in_any_policy" {
  command = plan

  assert {
    condition = alltrue(flatten([
      for doc in concat(values(module.iam.policy_documents), values(module.iam.trust_policy_documents)) : [
        for statement in jsondecode(doc).Statement : [
          for action in flatten([statement.Action]) : !strcontains(action, "*")
        ]
      ]
    ]))
    error_message = "An IAM policy grants a wildcard action: ${jsonencode(module.iam.policy_documents)}"
  }

  assert {
    condition = alltrue(flatten([
      for doc in values(module.iam.policy_documents) : [
        for statement in jsondecode(doc).Statement : !contains(keys(statement), "NotAction") && !contains(keys(statement), "NotResource") && statement.Effect == "Allow"
      ]
    ]))
    error_message = "Role policies must be plain Allow statements (no NotAction/NotResource)."
  }

  # Resource "*" only where the action has no resource-level permissions.
  assert {
    condition = alltrue(flatten([
      for doc in values(module.iam.policy_documents) : [
        for statement in jsondecode(doc).Statement : [
          for action in flatten([statement.Action]) :
          contains(["ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"], action)
        ] if contains(flatten([statement.Resource]), "*")
      ]
    ]))
    error_message = "Resource \"*\" is only allowed for ecr:GetAuthorizationToken and cloudwatch:PutMetricData."
  }
}

run "lambda_may_invoke_only_its_endpoint_and_log_to_its_group" {
  command = plan

  assert {
    condition = [
      for s in jsondecode(module.iam.policy_documents.lambda).Statement : s.Resource
      if contains(flatten([s.Action]), "sagemaker:InvokeEndpoint")
    ] == ["arn:aws:sagemaker:us-east-1:123456789012:endpoint/dog-breeds-endpoint"]
    error_message = "The Lambda role must invoke exactly arn:aws:sagemaker:us-east-1:123456789012:endpoint/dog-breeds-endpoint."
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(module.iam.policy_documents.lambda).Statement : s.Action
    ])) == toset(["sagemaker:InvokeEndpoint", "logs:CreateLogStream", "logs:PutLogEvents"])
    error_message = "The Lambda role must hold only InvokeEndpoint and log-writing actions."
  }

  assert {
    condition = [
      for s in jsondecode(module.iam.policy_documents.lambda).Statement : s.Resource
      if contains(flatten([s.Action]), "logs:PutLogEvents")
    ] == ["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/dog-breeds-predict:*"]
    error_message = "The Lambda role may write only to its own log group."
  }

  assert {
    condition     = jsondecode(module.iam.trust_policy_documents.lambda).Statement[0].Principal.Service == "lambda.amazonaws.com" && jsondecode(module.iam.trust_policy_documents.lambda).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "123456789012"
    error_message = "Only Lambda in this account may assume the Lambda role."
  }
}

run "training_role_reads_data_and_writes_only_job_output" {
  command = plan

  assert {
    condition = toset(flatten([
      for s in jsondecode(module.iam.policy_documents.training).Statement : s.Resource
      if contains(flatten([s.Action]), "s3:PutObject")
      ])) == toset([
      "arn:aws:s3:::dog-breeds-123456789012-us-east-1/training-jobs/*",
      "arn:aws:s3:::dog-breeds-123456789012-us-east-1/checkpoints/*",
    ])
    error_message = "The training role may write only training-jobs/ and checkpoints/ (never models/)."
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(module.iam.policy_documents.training).Statement : s.Resource
      if contains(flatten([s.Action]), "s3:GetObject")
      ])) == toset([
      "arn:aws:s3:::dog-breeds-123456789012-us-east-1/data/*",
      "arn:aws:s3:::dog-breeds-123456789012-us-east-1/code/*",
      "arn:aws:s3:::dog-breeds-123456789012-us-east-1/training-jobs/*",
      "arn:aws:s3:::dog-breeds-123456789012-us-east-1/checkpoints/*",
    ])
    error_message = "The training role reads data/, code/, its job output and checkpoints only."
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(module.iam.policy_documents.training).Statement : s.Resource
      if contains(flatten([s.Action]), "ecr:BatchGetImage")
    ])) == toset(["arn:aws:ecr:us-east-1:763104351884:repository/pytorch-training"])
    error_message = "The training role may pull only the PyTorch training container repository."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(module.iam.policy_documents.training).Statement :
      alltrue([for r in flatten([s.Resource]) : !strcontains(r, "/aws/sagemaker/Endpoints")])
    ])
    error_message = "The training role must not write the endpoint's logs."
  }

  assert {
    condition     = jsondecode(module.iam.trust_policy_documents.training).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "123456789012"
    error_message = "The training role's trust policy must carry the aws:SourceAccount guard."
  }
}

run "serving_role_reads_model_archives_only" {
  command = plan

  variables {
    model_data_url = "s3://dog-breeds-123456789012-us-east-1/training-jobs/job-1/output/model.tar.gz"
  }

  # Role ARNs are only known after apply; give them their real shape at plan time.
  override_resource {
    target          = module.iam.aws_iam_role.sagemaker_serving
    override_during = plan
    values          = { arn = "arn:aws:iam::123456789012:role/dog-breeds-sagemaker-serving" }
  }
  override_resource {
    target          = module.iam.aws_iam_role.sagemaker_training
    override_during = plan
    values          = { arn = "arn:aws:iam::123456789012:role/dog-breeds-sagemaker-training" }
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(module.iam.policy_documents.serving).Statement : s.Resource
      if contains(flatten([s.Action]), "s3:GetObject")
      ])) == toset([
      "arn:aws:s3:::dog-breeds-123456789012-us-east-1/training-jobs/*/output/model.tar.gz",
      "arn:aws:s3:::dog-breeds-123456789012-us-east-1/models/*",
    ])
    error_message = "The serving role may read model archives only (training-jobs/*/output/model.tar.gz, models/*), never data/ or code/."
  }

  assert {
    condition = alltrue(flatten([
      for s in jsondecode(module.iam.policy_documents.serving).Statement : [
        for action in flatten([s.Action]) : !contains(["s3:PutObject", "s3:ListBucket", "s3:DeleteObject"], action)
      ]
    ]))
    error_message = "Without data capture the serving role must not write, list or delete anything in the bucket."
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(module.iam.policy_documents.serving).Statement : s.Resource
      if contains(flatten([s.Action]), "ecr:BatchGetImage")
    ])) == toset(["arn:aws:ecr:us-east-1:763104351884:repository/pytorch-inference"])
    error_message = "The serving role may pull only the inference container repository."
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(module.iam.policy_documents.serving).Statement : s.Resource
      if contains(flatten([s.Action]), "logs:PutLogEvents")
      ])) == toset([
      "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/dog-breeds-endpoint",
      "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/dog-breeds-endpoint:*",
    ])
    error_message = "The serving role may log only to its endpoint's log group."
  }

  assert {
    condition     = jsondecode(module.iam.trust_policy_documents.serving).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "123456789012"
    error_message = "The serving role's trust policy must carry the aws:SourceAccount guard."
  }

  assert {
    condition     = module.endpoint[0].execution_role_arn == "arn:aws:iam::123456789012:role/dog-breeds-sagemaker-serving" && module.iam.training_role_arn != module.iam.serving_role_arn
    error_message = "The endpoint's model must run with the serving role, not the training role."
  }
}

run "sagemaker_roles_hold_no_dangerous_actions" {
  command = plan

  assert {
    condition = alltrue(flatten([
      for name in ["training", "serving"] : [
        for s in jsondecode(module.iam.policy_documents[name]).Statement : [
          for action in flatten([s.Action]) : !contains(["s3:DeleteObject", "s3:PutBucketPolicy", "iam:PassRole"], action)
        ]
      ]
    ]))
    error_message = "The SageMaker roles must not delete objects, change the bucket policy or pass roles."
  }

  assert {
    condition = alltrue([
      for name in ["training", "serving"] :
      [
        for s in jsondecode(module.iam.policy_documents[name]).Statement : s.Condition.StringLike["cloudwatch:namespace"]
        if contains(flatten([s.Action]), "cloudwatch:PutMetricData")
      ] == [["/aws/sagemaker/*"]]
    ])
    error_message = "PutMetricData must be limited to the SageMaker namespaces."
  }
}

run "training_host_reads_code_and_data_writes_its_model_prefix" {
  command = plan

  assert {
    condition = toset(flatten([
      for s in jsondecode(module.iam.policy_documents.training_host).Statement : s.Resource
      if contains(flatten([s.Action]), "s3:GetObject")
      ])) == toset([
      "arn:aws:s3:::dog-breeds-123456789012-us-east-1/code/*",
      "arn:aws:s3:::dog-breeds-123456789012-us-east-1/data/*",
    ])
    error_message = "The training host may read only code/ and data/."
  }

  assert {
    condition = [
      for s in jsondecode(module.iam.policy_documents.training_host).Statement : s.Resource
      if contains(flatten([s.Action]), "s3:PutObject")
    ] == ["arn:aws:s3:::dog-breeds-123456789012-us-east-1/models/ec2/*"]
    error_message = "The training host may write only models/ec2/."
  }

  assert {
    condition     = jsondecode(module.iam.trust_policy_documents.training_host).Statement[0].Principal.Service == "ec2.amazonaws.com"
    error_message = "Only EC2 may assume the training host role."
  }
}

run "custom_image_repository_and_regional_dlc_account_are_granted" {
  command = plan

  variables {
    region              = "me-south-1"
    inference_image_uri = "111122223333.dkr.ecr.me-south-1.amazonaws.com/team/serving:1.0"
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(module.iam.policy_documents.training).Statement : s.Resource
      if contains(flatten([s.Action]), "ecr:BatchGetImage")
    ])) == toset(["arn:aws:ecr:me-south-1:217643126080:repository/pytorch-training"])
    error_message = "The training role must pull from the region's DLC account only."
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(module.iam.policy_documents.serving).Statement : s.Resource
      if contains(flatten([s.Action]), "ecr:BatchGetImage")
    ])) == toset(["arn:aws:ecr:me-south-1:111122223333:repository/team/serving"])
    error_message = "The serving role must pull from the custom image's repository only."
  }
}

run "no_training_host_role_when_disabled" {
  command = plan

  variables {
    enable_training_host = false
  }

  assert {
    condition     = module.iam.policy_documents.training_host == null && output.training_host_role_arn == null && output.training_host_instance_id == null
    error_message = "Without enable_training_host there must be no host role, policy or instance."
  }
}
