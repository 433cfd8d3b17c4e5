# Bad input fails at plan, on the variable that needs fixing (messages say what to change).

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
  lambda_zip_path = "tests/fixtures/lambda_function.zip"
}

run "defaults_plan_cleanly" {
  command = plan
}

run "training_host_must_be_a_gpu_type" {
  command = plan
  variables {
    enable_training_host        = true
    training_host_instance_type = "t3.micro"
  }
  expect_failures = [var.training_host_instance_type]
}

run "g3_is_accepted_for_the_training_host" {
  command = plan
  variables {
    enable_training_host        = true
    training_host_instance_type = "g3s.xlarge"
    training_host_ami_id        = "ami-0123456789abcdef0"
  }
}

run "endpoint_instance_type_needs_the_ml_prefix" {
  command = plan
  variables {
    endpoint_instance_type = "m5.large"
  }
  expect_failures = [var.endpoint_instance_type]
}

run "min_capacity_above_max_capacity" {
  command = plan
  variables {
    min_capacity = 4
    max_capacity = 2
  }
  expect_failures = [var.min_capacity]
}

run "provisioned_above_reserved_concurrency" {
  command = plan
  variables {
    reserved_concurrency    = 5
    provisioned_concurrency = 6
  }
  expect_failures = [var.provisioned_concurrency]
}

run "provisioned_concurrency_with_unreserved_function" {
  command = plan
  variables {
    reserved_concurrency    = -1
    provisioned_concurrency = 6
  }
}

run "model_data_url_must_be_s3" {
  command = plan
  variables {
    model_data_url = "https://example.com/model.tar.gz"
  }
  expect_failures = [var.model_data_url]
}

run "model_data_url_must_be_a_tar_gz" {
  command = plan
  variables {
    model_data_url = "s3://dog-breeds-123456789012-us-east-1/models/model.pth"
  }
  expect_failures = [var.model_data_url]
}

run "snapstart_with_provisioned_concurrency" {
  command = plan
  variables {
    enable_snapstart        = true
    provisioned_concurrency = 1
  }
  expect_failures = [var.enable_snapstart]
}

run "snapstart_needs_python_3_12" {
  command = plan
  variables {
    enable_snapstart        = true
    provisioned_concurrency = 0
    lambda_runtime          = "python3.11"
  }
  expect_failures = [var.enable_snapstart]
}

run "snapstart_alone_is_fine" {
  command = plan
  variables {
    enable_snapstart        = true
    provisioned_concurrency = 0
  }
}

run "missing_lambda_zip" {
  command = plan
  variables {
    lambda_zip_path = "tests/fixtures/does-not-exist.zip"
  }
  expect_failures = [var.lambda_zip_path]
}

run "project_name_must_be_lowercase" {
  command = plan
  variables {
    project_name = "Dog_Breeds"
  }
  expect_failures = [var.project_name]
}

run "inference_image_must_be_ecr" {
  command = plan
  variables {
    inference_image_uri = "docker.io/pytorch/pytorch:latest"
  }
  expect_failures = [var.inference_image_uri]
}

run "train_args_reject_shell_metacharacters" {
  command = plan
  variables {
    enable_training_host     = true
    training_host_ami_id     = "ami-0123456789abcdef0"
    training_host_train_args = "--epochs 1; curl evil"
  }
  expect_failures = [var.training_host_train_args]
}
