# A GPU host that trains once and disappears: user data fetches code and data, runs
# training/train.py, uploads the artifacts and powers off; instance-initiated shutdown is
# "terminate", so a forgotten host stops billing.

# AWS publishes the current PyTorch Deep Learning AMI of each region as a public SSM parameter
# (no name filter to go stale, nothing picked once an image is deprecated).
data "aws_ssm_parameter" "deep_learning_ami" {
  count = var.ami_id == null ? 1 : 0

  name = var.ami_ssm_parameter
}

# With no subnet given, pick a default-VPC subnet in an availability zone that offers the
# instance type (GPU types are missing from some zones, e.g. g5 in us-east-1e).
data "aws_ec2_instance_type_offerings" "gpu" {
  count = var.subnet_id == null ? 1 : 0

  location_type = "availability-zone"

  filter {
    name   = "instance-type"
    values = [var.instance_type]
  }
}

data "aws_vpc" "default" {
  count = var.subnet_id == null ? 1 : 0

  default = true
}

data "aws_subnets" "default_for_az" {
  count = var.subnet_id == null ? 1 : 0

  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default[0].id]
  }

  filter {
    name   = "default-for-az"
    values = ["true"]
  }

  filter {
    name   = "availability-zone"
    values = data.aws_ec2_instance_type_offerings.gpu[0].locations
  }
}

locals {
  candidate_subnets = var.subnet_id != null ? [var.subnet_id] : sort(data.aws_subnets.default_for_az[0].ids)
}

data "aws_subnet" "selected" {
  id = try(local.candidate_subnets[0], null)

  lifecycle {
    precondition {
      condition     = length(local.candidate_subnets) > 0
      error_message = "No default-VPC subnet is in a zone that offers ${var.instance_type}: set subnet_id (training_host_subnet_id in the root), or pick another instance type or region."
    }
  }
}

locals {
  ami_id = var.ami_id != null ? var.ami_id : data.aws_ssm_parameter.deep_learning_ami[0].insecure_value

  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    bucket       = var.bucket_name
    region       = var.region
    code_key     = "code/training.tar.gz"
    data_prefix  = "data/"
    model_prefix = "models/ec2/"
    run_id       = var.run_id
    train_args   = var.train_args
    work_dir     = "/opt/dogops"
    power_off    = "1"
  })
}

resource "aws_security_group" "training_host" {
  name_prefix = "${var.name_prefix}-training-host-"
  description = "Training host: no inbound traffic; HTTPS out to S3"
  vpc_id      = data.aws_subnet.selected.vpc_id

  egress {
    description = "HTTPS to S3 (and package indexes if the AMI lacks boto3)"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_instance" "training" {
  ami                  = local.ami_id
  instance_type        = var.instance_type
  iam_instance_profile = var.instance_profile_name
  subnet_id            = data.aws_subnet.selected.id
  # In a subnet the team chose, no public address: S3 through a gateway endpoint (or NAT), shell
  # access through SSM Session Manager (docs/security.md). A default-VPC subnet has no other
  # route out, so there the subnet's own setting (public IP) stays.
  associate_public_ip_address = var.subnet_id == null ? null : false
  vpc_security_group_ids      = [aws_security_group.training_host.id]
  ebs_optimized               = true
  monitoring                  = var.detailed_monitoring

  # The user data ends with a power-off; this makes that a termination.
  instance_initiated_shutdown_behavior = "terminate"

  user_data                   = local.user_data
  user_data_replace_on_change = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  root_block_device {
    encrypted             = true
    kms_key_id            = var.kms_key_arn
    volume_type           = "gp3"
    volume_size           = var.root_volume_size_gb
    delete_on_termination = true
  }

  dynamic "instance_market_options" {
    for_each = var.use_spot ? ["spot"] : []
    content {
      market_type = instance_market_options.value
      spot_options {
        spot_instance_type             = "one-time"
        instance_interruption_behavior = "terminate"
      }
    }
  }

  tags = {
    Name = "${var.name_prefix}-training-host"
  }
}
