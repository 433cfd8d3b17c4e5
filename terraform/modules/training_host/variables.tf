variable "name_prefix" {
  description = "Prefix for resource names (the project name)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 characters of lowercase letters, digits and '-', starting with a letter."
  }
}

variable "instance_type" {
  description = "GPU instance type: g5 (default g5.xlarge), g4dn, or g3 (g3's M60 GPU is not supported by PyTorch 2.8+ CUDA 12.8 builds: pin an AMI with PyTorch 2.7 or older)."
  type        = string
  default     = "g5.xlarge"

  validation {
    condition     = can(regex("^(g5|g4dn|g3|g3s)\\.([0-9]*xlarge|metal)$", var.instance_type))
    error_message = "instance_type must be a g5, g4dn or g3 GPU type such as g5.xlarge, g4dn.xlarge or g3s.xlarge."
  }
}

variable "ami_id" {
  description = "AMI id of a Deep Learning AMI with PyTorch; null reads it from the public SSM parameter ami_ssm_parameter."
  type        = string
  default     = null

  validation {
    condition     = var.ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must be null (look up the Deep Learning AMI) or an AMI id like ami-0123456789abcdef0."
  }
}

variable "ami_ssm_parameter" {
  description = "Public SSM parameter AWS keeps at the current PyTorch Deep Learning AMI id (Ubuntu 24.04, x86_64); used when ami_id is null."
  type        = string
  default     = "/aws/service/deeplearning/ami/x86_64/oss-nvidia-driver-gpu-pytorch-2.10-ubuntu-24.04/latest/ami-id"
  nullable    = false

  validation {
    condition     = can(regex("^/aws/service/deeplearning/ami/(x86_64|arm64)/[a-z0-9.-]+/latest/ami-id$", var.ami_ssm_parameter))
    error_message = "ami_ssm_parameter must be a Deep Learning AMI parameter like /aws/service/deeplearning/ami/x86_64/oss-nvidia-driver-gpu-pytorch-2.10-ubuntu-24.04/latest/ami-id."
  }
}

variable "instance_profile_name" {
  description = "Name of the IAM instance profile the host runs as."
  type        = string

  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,128}$", var.instance_profile_name))
    error_message = "instance_profile_name must be an IAM instance profile name."
  }
}

variable "bucket_name" {
  description = "Artifacts bucket to read code/data from and write models/ec2/<run>/ to."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name."
  }
}

variable "region" {
  description = "AWS region (for the host's S3 client)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like us-east-1."
  }
}

variable "run_id" {
  description = "Name of the training run (artifacts go to models/ec2/<run_id>/); empty uses a UTC timestamp taken at boot."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{0,64}$", var.run_id))
    error_message = "run_id must be at most 64 letters, digits, '.', '_' or '-'."
  }
}

variable "train_args" {
  description = "Extra arguments for training/train.py, e.g. \"--epochs 10 --batch-size 32\"."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9 ._=,:/-]*$", var.train_args))
    error_message = "train_args may only hold letters, digits, spaces and . _ = , : / - (no quotes or shell metacharacters)."
  }
}

variable "use_spot" {
  description = "Launch as a one-time Spot instance (cheaper; may be interrupted, which also terminates it)."
  type        = bool
  default     = false
  nullable    = false
}

variable "root_volume_size_gb" {
  description = "Size of the encrypted gp3 root volume in GiB (the Deep Learning AMI alone needs about 100)."
  type        = number
  default     = 150

  validation {
    condition     = var.root_volume_size_gb >= 100 && var.root_volume_size_gb <= 2000 && floor(var.root_volume_size_gb) == var.root_volume_size_gb
    error_message = "root_volume_size_gb must be a whole number from 100 to 2000."
  }
}

variable "subnet_id" {
  description = "Subnet to launch in (needs a route to S3: a public subnet or an S3 gateway endpoint); null uses a default subnet of the default VPC."
  type        = string
  default     = null

  validation {
    condition     = var.subnet_id == null || can(regex("^subnet-[0-9a-f]{8,17}$", var.subnet_id))
    error_message = "subnet_id must be null or a subnet id like subnet-0123456789abcdef0."
  }
}

variable "detailed_monitoring" {
  description = "Enable 1-minute CloudWatch metrics on the host (GPU hosts are short-lived, so the cost is small)."
  type        = bool
  default     = true
  nullable    = false
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the root volume (whoever applies Terraform needs kms:CreateGrant, kms:GenerateDataKeyWithoutPlaintext and kms:Decrypt on it); null uses the account's default EBS key."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]{36}$", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>), not an alias."
  }
}
