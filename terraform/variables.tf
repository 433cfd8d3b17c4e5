# --- Project ---

variable "project_name" {
  description = "Prefix of every resource name (bucket, roles, endpoint, function)."
  type        = string
  default     = "dog-breeds"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.project_name))
    error_message = "project_name must be 3-32 characters of lowercase letters, digits and '-', starting with a letter and not ending with '-'."
  }
}

variable "environment" {
  description = "Environment name (dev, staging, prod, ...) added to every resource name (<project_name>-<environment>-...) so environments coexist in one account; \"\" (the default) keeps the plain names."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.environment == "" || can(regex("^[a-z]([a-z0-9-]{0,14}[a-z0-9])?$", var.environment))
    error_message = "environment must be \"\" or 1-16 lowercase letters, digits and '-', starting with a letter and not ending with '-'."
  }

  validation {
    # <prefix>-endpoint plus the endpoint config's 26-character suffix must fit in 63 characters.
    condition     = var.environment == "" || length(var.project_name) + length(var.environment) <= 27
    error_message = "project_name and environment together must be at most 27 characters (SageMaker endpoint config names are limited to 63): use a shorter environment name."
  }
}

variable "region" {
  description = "AWS region of the stack."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "tags" {
  description = "Extra tags for every resource (Project and ManagedBy are always set)."
  type        = map(string)
  default     = {}
  nullable    = false
}

# --- Storage ---

variable "bucket_name" {
  description = "Artifacts bucket name; null uses <project_name>-<account id>-<region>, which is globally unique."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be null or 3-63 characters of lowercase letters, digits, '.' and '-'."
  }
}

variable "bucket_force_destroy" {
  description = "Let `terraform destroy` delete a non-empty bucket with all object versions (emulator/throwaway stacks)."
  type        = bool
  default     = false
  nullable    = false
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted object versions are removed for good."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number of days, at least 1."
  }
}

# --- SageMaker endpoint ---

variable "model_data_url" {
  description = "S3 URI of the model.tar.gz to serve; null (the default) creates no model, endpoint or autoscaling yet."
  type        = string
  default     = null

  validation {
    condition     = var.model_data_url == null || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+\\.tar\\.gz$", var.model_data_url))
    error_message = "model_data_url must be null or an S3 URI of a model archive, like s3://my-bucket/training-jobs/<job>/output/model.tar.gz."
  }
}

variable "inference_image_uri" {
  description = "Serving container; null uses the AWS PyTorch inference DLC 2.6.0 CPU py312 of the region (<account>.dkr.ecr.<region>.amazonaws.com/pytorch-inference:2.6.0-cpu-py312). Use a -gpu- image with GPU instance types."
  type        = string
  default     = null

  validation {
    condition     = var.inference_image_uri == null || can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[a-z0-9._/-]+[:@].+$", var.inference_image_uri))
    error_message = "inference_image_uri must be null or an ECR image URI like 763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312."
  }
}

variable "endpoint_instance_type" {
  description = "SageMaker hosting instance type (ml.m5.large suits the default CPU image)."
  type        = string
  default     = "ml.m5.large"

  validation {
    condition     = can(regex("^ml\\.[a-z][a-z0-9-]*\\.([0-9]*xlarge|large|medium|small)$", var.endpoint_instance_type))
    error_message = "endpoint_instance_type must be a SageMaker instance type such as ml.m5.large or ml.g4dn.xlarge (with the ml. prefix)."
  }
}

variable "endpoint_network_isolation" {
  description = "Run the SageMaker model with enable_network_isolation: the serving container gets no network (no PyPI, no image downloads, no exfiltration path). The model archive carries its wheels and the Lambda fetches {\"url\": ...} images, so the default loses nothing; see docs/security.md."
  type        = bool
  default     = true
}

variable "endpoint_model_server" {
  description = "Model-server workers, TorchServe batching and ONNX Runtime threads per worker of the endpoint's container (see modules/endpoint, variable model_server)."
  type = object({
    workers            = optional(number, 1)
    batch_size         = optional(number, 1)
    max_batch_delay_ms = optional(number, 20)
    ort_threads        = optional(number, 0)
  })
  default  = {}
  nullable = false

  validation {
    condition = alltrue([
      for value in [var.endpoint_model_server.workers, var.endpoint_model_server.batch_size, var.endpoint_model_server.max_batch_delay_ms, var.endpoint_model_server.ort_threads] : floor(value) == value
    ]) && var.endpoint_model_server.workers >= 1 && var.endpoint_model_server.workers <= 64 && var.endpoint_model_server.batch_size >= 1 && var.endpoint_model_server.batch_size <= 64 && var.endpoint_model_server.max_batch_delay_ms >= 1 && var.endpoint_model_server.max_batch_delay_ms <= 1000 && var.endpoint_model_server.ort_threads >= 0 && var.endpoint_model_server.ort_threads <= 64
    error_message = "endpoint_model_server needs whole numbers: workers 1-64, batch_size 1-64, max_batch_delay_ms 1-1000, ort_threads 0-64 (0 = one per core)."
  }
}

variable "min_capacity" {
  description = "Minimum (and initial) number of endpoint instances."
  type        = number
  default     = 1

  validation {
    condition     = var.min_capacity >= 1 && floor(var.min_capacity) == var.min_capacity
    error_message = "min_capacity must be a whole number, at least 1."
  }

  validation {
    condition     = var.min_capacity <= var.max_capacity
    error_message = "min_capacity must not be greater than max_capacity: lower min_capacity or raise max_capacity."
  }
}

variable "max_capacity" {
  description = "Maximum number of endpoint instances autoscaling may reach."
  type        = number
  default     = 3

  validation {
    condition     = var.max_capacity >= 1 && var.max_capacity <= 100 && floor(var.max_capacity) == var.max_capacity
    error_message = "max_capacity must be a whole number from 1 to 100."
  }
}

variable "target_invocations_per_instance" {
  description = "Target of SageMakerVariantInvocationsPerInstance (invocations per instance per minute) for target tracking."
  type        = number
  default     = 70

  validation {
    condition     = var.target_invocations_per_instance > 0
    error_message = "target_invocations_per_instance must be greater than 0."
  }
}

variable "scale_in_cooldown" {
  description = "Seconds after a scale-in before another scale-in may start."
  type        = number
  default     = 300

  validation {
    condition     = var.scale_in_cooldown >= 0 && floor(var.scale_in_cooldown) == var.scale_in_cooldown
    error_message = "scale_in_cooldown must be a whole number of seconds, 0 or more."
  }
}

variable "scale_out_cooldown" {
  description = "Seconds after a scale-out before another scale-out may start."
  type        = number
  default     = 60

  validation {
    condition     = var.scale_out_cooldown >= 0 && floor(var.scale_out_cooldown) == var.scale_out_cooldown
    error_message = "scale_out_cooldown must be a whole number of seconds, 0 or more."
  }
}

# --- Lambda front door ---

variable "lambda_zip_path" {
  description = "Pre-built deployment zip of lambda_function/; null uses ../build/lambda_function.zip (relative to this directory)."
  type        = string
  default     = null

  validation {
    condition     = var.lambda_zip_path == null || try(endswith(var.lambda_zip_path, ".zip") && fileexists(var.lambda_zip_path), false)
    error_message = "lambda_zip_path must be null or an existing .zip file: build the Lambda package first (`invoke package` writes build/lambda_function.zip)."
  }
}

variable "lambda_runtime" {
  description = "Python runtime of the function (SnapStart needs python3.12 or later)."
  type        = string
  default     = "python3.12"

  validation {
    condition     = contains(["python3.11", "python3.12", "python3.13"], var.lambda_runtime)
    error_message = "lambda_runtime must be python3.11, python3.12 or python3.13."
  }
}

variable "lambda_memory_mb" {
  description = "Memory of the function in MB."
  type        = number
  default     = 256

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240 && floor(var.lambda_memory_mb) == var.lambda_memory_mb
    error_message = "lambda_memory_mb must be a whole number from 128 to 10240."
  }
}

variable "lambda_timeout_s" {
  description = "Function timeout in seconds (keep it above the handler's worst case: a url download, 8 s, plus 2 x (2 s + 12 s) for the endpoint; docs/lambda.md)."
  type        = number
  default     = 40

  validation {
    condition     = var.lambda_timeout_s >= 3 && var.lambda_timeout_s <= 900 && floor(var.lambda_timeout_s) == var.lambda_timeout_s
    error_message = "lambda_timeout_s must be a whole number of seconds from 3 to 900."
  }
}

variable "lambda_top_k" {
  description = "Default number of predictions the function returns (TOP_K)."
  type        = number
  default     = 3

  validation {
    condition     = var.lambda_top_k >= 1 && var.lambda_top_k <= 10 && floor(var.lambda_top_k) == var.lambda_top_k
    error_message = "lambda_top_k must be a whole number from 1 to 10."
  }
}

variable "reserved_concurrency" {
  description = "Concurrent executions reserved for (and capping) the function; -1 leaves it unreserved (needed on accounts whose total limit is 10)."
  type        = number
  default     = 10

  validation {
    condition     = var.reserved_concurrency == -1 || (var.reserved_concurrency >= 1 && floor(var.reserved_concurrency) == var.reserved_concurrency)
    error_message = "reserved_concurrency must be -1 (unreserved) or a whole number of at least 1."
  }
}

variable "provisioned_concurrency" {
  description = "Pre-initialised environments on the live alias (0 = off). AWS does not combine it with SnapStart."
  type        = number
  default     = 1

  validation {
    condition     = var.provisioned_concurrency >= 0 && floor(var.provisioned_concurrency) == var.provisioned_concurrency
    error_message = "provisioned_concurrency must be a whole number, 0 or more."
  }

  validation {
    condition     = var.reserved_concurrency == -1 || var.provisioned_concurrency <= var.reserved_concurrency
    error_message = "provisioned_concurrency must not exceed reserved_concurrency: lower provisioned_concurrency or raise reserved_concurrency."
  }
}

variable "enable_snapstart" {
  description = "Use SnapStart on published versions instead of provisioned concurrency (python3.12+; set provisioned_concurrency = 0)."
  type        = bool
  default     = false
  nullable    = false

  validation {
    condition     = !var.enable_snapstart || var.provisioned_concurrency == 0
    error_message = "SnapStart and provisioned concurrency cannot be combined on AWS: choose one. For SnapStart set provisioned_concurrency = 0; otherwise set enable_snapstart = false."
  }

  validation {
    condition     = !var.enable_snapstart || var.lambda_runtime != "python3.11"
    error_message = "SnapStart for Python needs python3.12 or later: set lambda_runtime = \"python3.12\" or newer."
  }
}

variable "enable_function_url" {
  description = "Create a function URL on the live alias with AWS_IAM auth (callers sign requests with SigV4); never public."
  type        = bool
  default     = false
  nullable    = false
}

variable "lambda_log_retention_days" {
  description = "Retention of the function's log group in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.lambda_log_retention_days)
    error_message = "lambda_log_retention_days must be a CloudWatch Logs retention value such as 7, 14, 30, 90 or 365."
  }
}

# --- EC2 training host (off by default) ---

variable "enable_training_host" {
  description = "Launch the EC2 GPU training host (it trains once, uploads to models/ec2/<run>/ and terminates itself)."
  type        = bool
  default     = false
  nullable    = false
}

variable "training_host_instance_type" {
  description = "GPU type of the training host: g5 (default g5.xlarge), g4dn, or g3 (see the g3 caveat in docs/terraform.md)."
  type        = string
  default     = "g5.xlarge"

  validation {
    condition     = can(regex("^(g5|g4dn|g3|g3s)\\.([0-9]*xlarge|metal)$", var.training_host_instance_type))
    error_message = "training_host_instance_type must be a g5, g4dn or g3 GPU type such as g5.xlarge, g4dn.xlarge or g3s.xlarge."
  }
}

variable "training_host_ami_id" {
  description = "AMI id for the host (override); null uses the PyTorch Deep Learning AMI that training_host_ami_ssm_parameter points at."
  type        = string
  default     = null

  validation {
    condition     = var.training_host_ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.training_host_ami_id))
    error_message = "training_host_ami_id must be null or an AMI id like ami-0123456789abcdef0."
  }
}

variable "training_host_ami_ssm_parameter" {
  description = "Public SSM parameter with the current PyTorch Deep Learning AMI id (Ubuntu 24.04, x86_64) of the region."
  type        = string
  default     = "/aws/service/deeplearning/ami/x86_64/oss-nvidia-driver-gpu-pytorch-2.10-ubuntu-24.04/latest/ami-id"
  nullable    = false

  validation {
    condition     = can(regex("^/aws/service/deeplearning/ami/(x86_64|arm64)/[a-z0-9.-]+/latest/ami-id$", var.training_host_ami_ssm_parameter))
    error_message = "training_host_ami_ssm_parameter must be a Deep Learning AMI parameter like /aws/service/deeplearning/ami/x86_64/oss-nvidia-driver-gpu-pytorch-2.10-ubuntu-24.04/latest/ami-id."
  }
}

variable "training_host_use_spot" {
  description = "Launch the training host as a one-time Spot instance."
  type        = bool
  default     = false
  nullable    = false
}

variable "training_host_run_id" {
  description = "Run name for the host's artifacts (models/ec2/<run_id>/); empty uses a UTC timestamp taken at boot."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{0,64}$", var.training_host_run_id))
    error_message = "training_host_run_id must be at most 64 letters, digits, '.', '_' or '-'."
  }
}

variable "training_host_train_args" {
  description = "Extra arguments for training/train.py on the host, e.g. \"--epochs 10 --batch-size 32\"."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9 ._=,:/-]*$", var.training_host_train_args))
    error_message = "training_host_train_args may only hold letters, digits, spaces and . _ = , : / - (no quotes or shell metacharacters)."
  }
}

variable "training_host_subnet_id" {
  description = "Subnet for the training host (needs a route to S3); null uses a default subnet of the default VPC."
  type        = string
  default     = null

  validation {
    condition     = var.training_host_subnet_id == null || can(regex("^subnet-[0-9a-f]{8,17}$", var.training_host_subnet_id))
    error_message = "training_host_subnet_id must be null or a subnet id like subnet-0123456789abcdef0."
  }
}

variable "training_host_root_volume_gb" {
  description = "Size of the host's encrypted gp3 root volume in GiB."
  type        = number
  default     = 150

  validation {
    condition     = var.training_host_root_volume_gb >= 100 && var.training_host_root_volume_gb <= 2000 && floor(var.training_host_root_volume_gb) == var.training_host_root_volume_gb
    error_message = "training_host_root_volume_gb must be a whole number from 100 to 2000."
  }
}

variable "training_host_detailed_monitoring" {
  description = "1-minute CloudWatch metrics for the training host (the emulator profile turns this off)."
  type        = bool
  default     = true
  nullable    = false
}

# --- CI: read-only plan role for GitHub Actions through OIDC (off by default) ---

variable "enable_github_plan_role" {
  description = "Create a read-only role that GitHub Actions runs of github_repository on github_plan_branch assume through OIDC to run `invoke plan --target aws` (no long-lived keys)."
  type        = bool
  default     = false
  nullable    = false

  validation {
    condition     = !var.enable_github_plan_role || (var.github_repository != null && var.github_state_bucket != null)
    error_message = "enable_github_plan_role needs github_repository (owner/name) and github_state_bucket (the bucket in terraform/aws.s3.tfbackend)."
  }

  validation {
    condition     = !var.enable_github_plan_role || var.environment == ""
    error_message = "Enable the GitHub plan role in the default environment only: one role plans every environment."
  }
}

variable "github_repository" {
  description = "owner/name of the repository whose workflow may assume the plan role."
  type        = string
  default     = null
}

variable "github_plan_branch" {
  description = "The one branch whose workflow runs may assume the plan role."
  type        = string
  default     = "main"
  nullable    = false
}

variable "github_oidc_provider_arn" {
  description = "Existing IAM OIDC provider for token.actions.githubusercontent.com (one per account); null creates it."
  type        = string
  default     = null
}

variable "github_state_bucket" {
  description = "Terraform state bucket the plan role reads (and locks); see terraform/aws.s3.tfbackend."
  type        = string
  default     = null
}

# --- model lifecycle: rollouts, alarms, data capture (docs/terraform.md, "Model rollouts") ---

variable "endpoint_initial_instance_count" {
  description = "Instance count of a new endpoint config. The tooling sets it to the live fleet size during a rollout, so autoscaling's count survives it; null = min_capacity."
  type        = number
  default     = null
}

variable "deployment_guardrails" {
  description = "Roll new models out blue/green with traffic shifting and automatic rollback on the rollback alarms."
  type        = bool
  default     = true
}

variable "rollout_traffic" {
  description = "Traffic shifting of a rollout: canary, linear or all_at_once."
  type        = string
  default     = "canary"
}

variable "rollout_step_percent" {
  description = "Canary size, or linear step, in percent of the fleet's capacity."
  type        = number
  default     = 10
}

variable "rollout_wait_s" {
  description = "Baking period after each traffic step, in seconds."
  type        = number
  default     = 300
}

variable "rollout_termination_wait_s" {
  description = "Final baking period with all traffic on the new model before the old fleet goes, in seconds."
  type        = number
  default     = 300
}

variable "rollout_max_execution_s" {
  description = "Upper bound of a whole rollout in seconds (600-28800)."
  type        = number
  default     = 3600
}

variable "enable_monitoring" {
  description = "CloudWatch alarms (endpoint 5XX, p99 latency, 4XX rate; Lambda errors, throttles, p99 duration) and a dashboard. The 5XX and latency alarms are the rollout's rollback alarms."
  type        = bool
  default     = true
}

variable "alarm_period_s" {
  description = "Alarm period in seconds."
  type        = number
  default     = 60
}

variable "alarm_endpoint_5xx_errors" {
  description = "Endpoint 5XX errors per period that raise the alarm."
  type        = number
  default     = 1
}

variable "alarm_endpoint_latency_p99_ms" {
  description = "Endpoint p99 ModelLatency (ms) that raises the alarm."
  type        = number
  default     = 2000
}

variable "alarm_endpoint_4xx_rate_percent" {
  description = "Percent of endpoint invocations answered 4XX that raises the alarm."
  type        = number
  default     = 10
}

variable "alarm_lambda_duration_p99_ms" {
  description = "Lambda p99 duration (ms) that raises the alarm."
  type        = number
  default     = 5000
}

variable "create_alarm_topic" {
  description = "Create an SNS topic every alarm notifies."
  type        = bool
  default     = false
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic."
  type        = list(string)
  default     = []
}

variable "data_capture_sampling_percent" {
  description = "Endpoint data capture: percent of requests (and responses) stored under s3://<bucket>/data-capture/. 0 = off (the default: captured images are user data with storage cost; see docs/terraform.md)."
  type        = number
  default     = 0

  validation {
    condition     = var.data_capture_sampling_percent >= 0 && var.data_capture_sampling_percent <= 100 && floor(var.data_capture_sampling_percent) == var.data_capture_sampling_percent
    error_message = "data_capture_sampling_percent must be a whole number from 0 to 100."
  }
}

# --- Defence in depth: customer-managed key, access logs (docs/security.md) ---

variable "kms_key_arn" {
  description = "Customer-managed KMS key (same region) for the bucket's default encryption (SSE-KMS + bucket key), the endpoint's ML storage volume and captured data, the Lambda log group, the alarm topic and the training host's root volume; null (the default) keeps AWS-managed encryption. The key policy must let the CloudWatch Logs and CloudWatch services use it (docs/security.md)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]{36}$", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>), not an alias."
  }

  validation {
    condition     = var.kms_key_arn == null || try(split(":", var.kms_key_arn)[3] == var.region, false)
    error_message = "kms_key_arn must be a key in the stack's region (var.region): log groups, endpoints and buckets cannot use a key from another region."
  }
}

variable "enable_access_logging" {
  description = "S3 server access logs of the artifacts bucket (who read or wrote which object, from where). On by default: creates <bucket>-logs (private, SSE-S3, versioned, expiring after access_log_retention_days) unless access_log_bucket names an existing one."
  type        = bool
  default     = true
  nullable    = false
}

variable "access_log_bucket" {
  description = "Existing bucket (same account and region) to deliver the access logs to, under s3-access/; its policy must allow logging.s3.amazonaws.com to PutObject there. null creates the log bucket."
  type        = string
  default     = null

  validation {
    condition     = var.access_log_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_log_bucket))
    error_message = "access_log_bucket must be null or a bucket name (3-63 lowercase letters, digits, '.' and '-')."
  }
}

variable "access_log_retention_days" {
  description = "Days after which access logs in the created log bucket expire."
  type        = number
  default     = 90

  validation {
    condition     = var.access_log_retention_days >= 1 && floor(var.access_log_retention_days) == var.access_log_retention_days
    error_message = "access_log_retention_days must be a whole number of days, at least 1."
  }
}
