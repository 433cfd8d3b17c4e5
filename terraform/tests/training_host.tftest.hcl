# The EC2 training host: terminates itself, IMDSv2 only, encrypted disk, optional spot.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_ssm_parameter" {
    defaults = { insecure_value = "ami-0fedcba9876543210" }
  }
  mock_data "aws_ec2_instance_type_offerings" {
    defaults = { locations = ["us-east-1a", "us-east-1b"] }
  }
  mock_data "aws_subnets" {
    defaults = { ids = ["subnet-0b000000000000000", "subnet-0a000000000000000"] }
  }
  mock_data "aws_subnet" {
    defaults = { vpc_id = "vpc-0123456789abcdef0" }
  }
}

variables {
  name_prefix           = "dog-breeds"
  instance_profile_name = "dog-breeds-training-host"
  bucket_name           = "dog-breeds-123456789012-us-east-1"
  region                = "us-east-1"
  ami_id                = "ami-0123456789abcdef0"
}

run "host_terminates_itself_and_is_locked_down" {
  command = plan

  module {
    source = "./modules/training_host"
  }

  assert {
    condition     = aws_instance.training.instance_initiated_shutdown_behavior == "terminate"
    error_message = "Powering off must terminate the host so it stops billing."
  }

  assert {
    condition     = aws_instance.training.metadata_options[0].http_tokens == "required" && aws_instance.training.metadata_options[0].http_put_response_hop_limit == 1
    error_message = "IMDSv2 must be required."
  }

  assert {
    condition     = aws_instance.training.root_block_device[0].encrypted && aws_instance.training.root_block_device[0].delete_on_termination
    error_message = "The root volume must be encrypted and deleted with the host."
  }

  assert {
    condition     = aws_instance.training.instance_type == "g5.xlarge" && aws_instance.training.ami == "ami-0123456789abcdef0" && length(data.aws_ssm_parameter.deep_learning_ami) == 0
    error_message = "Default g5.xlarge from the given AMI, with no AMI lookup."
  }

  assert {
    condition     = length(aws_instance.training.instance_market_options) == 0
    error_message = "On-demand unless use_spot is set."
  }

  assert {
    condition     = aws_instance.training.subnet_id == "subnet-0a000000000000000" && aws_security_group.training_host.vpc_id == "vpc-0123456789abcdef0"
    error_message = "Without subnet_id the host goes to the first default subnet in a zone offering the type."
  }

  assert {
    condition     = [for rule in aws_security_group.training_host.egress : [rule.from_port, rule.to_port, rule.protocol]] == [[443, 443, "tcp"]]
    error_message = "The host may only reach HTTPS endpoints."
  }

  assert {
    condition     = aws_instance.training.iam_instance_profile == "dog-breeds-training-host"
    error_message = "The host must run with its own instance profile."
  }
}

run "user_data_fetches_trains_uploads_and_powers_off" {
  command = plan

  module {
    source = "./modules/training_host"
  }

  variables {
    run_id     = "run-7"
    train_args = "--epochs 3 --batch-size 16"
  }

  assert {
    condition = alltrue([
      strcontains(output.user_data, "BUCKET='dog-breeds-123456789012-us-east-1'"),
      strcontains(output.user_data, "CODE_KEY='code/training.tar.gz'"),
      strcontains(output.user_data, "DATA_PREFIX='data/'"),
      strcontains(output.user_data, "MODEL_PREFIX='models/ec2/'"),
      strcontains(output.user_data, "RUN_ID='run-7'"),
      strcontains(output.user_data, "TRAIN_ARGS='--epochs 3 --batch-size 16'"),
      strcontains(output.user_data, "echo '1')\""),
      strcontains(output.user_data, "training/train.py"),
      strcontains(output.user_data, "/opt/pytorch/bin/python "),
      strcontains(output.user_data, "--model-dir"),
      strcontains(output.user_data, "shutdown -h now"),
    ])
    error_message = "The user data must fetch code and data, run training/train.py, upload to models/ec2/<run>/ and power off."
  }

  assert {
    condition     = !strcontains(output.user_data, "aws s3")
    error_message = "The user data must use boto3, not the AWS CLI."
  }

  assert {
    condition     = output.artifact_prefix == "s3://dog-breeds-123456789012-us-east-1/models/ec2/run-7/"
    error_message = "The artifact prefix must name the run."
  }
}

run "spot_and_ami_lookup" {
  command = plan

  module {
    source = "./modules/training_host"
  }

  variables {
    ami_id        = null
    use_spot      = true
    instance_type = "g4dn.xlarge"
    subnet_id     = "subnet-0123456789abcdef0"
  }

  assert {
    condition     = aws_instance.training.instance_market_options[0].market_type == "spot" && aws_instance.training.instance_market_options[0].spot_options[0].instance_interruption_behavior == "terminate"
    error_message = "use_spot must launch a one-time spot instance that terminates on interruption."
  }

  assert {
    condition     = length(data.aws_ssm_parameter.deep_learning_ami) == 1 && data.aws_ssm_parameter.deep_learning_ami[0].name == "/aws/service/deeplearning/ami/x86_64/oss-nvidia-driver-gpu-pytorch-2.10-ubuntu-24.04/latest/ami-id" && aws_instance.training.ami == "ami-0fedcba9876543210"
    error_message = "Without ami_id the PyTorch DLAMI (Ubuntu 24.04) must come from its public SSM parameter."
  }

  assert {
    condition     = aws_instance.training.subnet_id == "subnet-0123456789abcdef0" && length(data.aws_subnets.default_for_az) == 0
    error_message = "A given subnet_id must be used as is."
  }
}

run "root_launches_host_only_when_enabled" {
  command = plan

  variables {
    lambda_zip_path      = "tests/fixtures/lambda_function.zip"
    enable_training_host = true
    training_host_ami_id = "ami-0123456789abcdef0"
  }

  assert {
    condition     = length(module.training_host) == 1
    error_message = "enable_training_host must launch one host."
  }
}
