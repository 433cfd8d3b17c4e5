# The GitHub Actions plan role: off by default; when on, only one repository's branch may assume
# it through OIDC, and it can read but not change the stack or the state.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
}

variables {
  lambda_zip_path = "tests/fixtures/lambda_function.zip"
}

run "off_by_default" {
  command = plan

  assert {
    condition     = length(module.ci_plan_role) == 0 && output.github_plan_role_arn == null
    error_message = "The GitHub plan role must not exist unless enable_github_plan_role is true."
  }
}

run "trust_is_scoped_to_one_repository_branch_and_audience" {
  command = plan

  variables {
    enable_github_plan_role = true
    github_repository       = "my-org/dog-breeds"
    github_state_bucket     = "dog-breeds-tfstate-123456789012-us-east-1"
    # an existing provider (one per account), so the ARN is known at plan
    github_oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
  }

  assert {
    condition     = jsondecode(module.ci_plan_role[0].trust_policy).Statement[0].Principal.Federated == "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    error_message = "The trust policy must name the GitHub OIDC provider."
  }

  assert {
    condition = jsondecode(module.ci_plan_role[0].trust_policy).Statement[0].Condition.StringEquals == {
      "token.actions.githubusercontent.com:aud" = "sts.amazonaws.com"
      "token.actions.githubusercontent.com:sub" = "repo:my-org/dog-breeds:ref:refs/heads/main"
    }
    error_message = "The trust policy must pin aud to sts.amazonaws.com and sub to the repository's main branch."
  }

  assert {
    condition     = jsondecode(module.ci_plan_role[0].trust_policy).Statement[0].Action == "sts:AssumeRoleWithWebIdentity"
    error_message = "Only web-identity federation may assume the plan role."
  }

  # Read-only: no action that creates, changes or deletes, except the state lock object.
  assert {
    condition = alltrue(flatten([
      for statement in jsondecode(module.ci_plan_role[0].policy).Statement : [
        for action in flatten([statement.Action]) :
        can(regex("^[a-z0-9-]+:(Get|List|Describe)", action)) || (
          contains(["s3:PutObject", "s3:DeleteObject"], action) &&
          statement.Resource == "arn:aws:s3:::dog-breeds-tfstate-123456789012-us-east-1/dogops/*/terraform.tfstate.tflock"
        )
      ]
    ]))
    error_message = "The plan role may only read, and write nothing but the state lock object."
  }

  assert {
    condition = alltrue([
      for statement in jsondecode(module.ci_plan_role[0].policy).Statement :
      statement.Resource != "*" || statement.Sid == "DescribeActionsWithoutResourceLevelPermissions"
    ])
    error_message = "Resource \"*\" only for Describe actions without resource-level permissions."
  }
}

run "creates_the_oidc_provider_when_none_is_given" {
  command = plan

  variables {
    enable_github_plan_role = true
    github_repository       = "my-org/dog-breeds"
    github_state_bucket     = "dog-breeds-tfstate-123456789012-us-east-1"
  }

  assert {
    condition     = length(module.ci_plan_role[0].oidc_provider_urls) == 1
    error_message = "Without github_oidc_provider_arn the module creates the GitHub OIDC provider."
  }
}

run "needs_a_repository_and_the_default_environment" {
  command = plan

  variables {
    enable_github_plan_role = true
    environment             = "prod"
  }

  expect_failures = [var.enable_github_plan_role]
}

run "environment_names_are_validated" {
  command = plan

  variables {
    environment = "Prod_1"
  }

  expect_failures = [var.environment]
}
