"""One target's AWS side: boto3 clients, Terraform runs and the stack's outputs.

`local` talks to the embedded emulator (started on demand) with its own Terraform state;
`aws` uses the normal credential chain and refuses to start without credentials.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dogops import config, remote_state
from dogops.errors import UserError
from dogops.lambda_package import LambdaPackageError
from dogops.lambda_package import build_lambda_zip as _build_zip
from dogops.terraform import (
    Terraform,
    emulator_override,
    local_state_override,
    remove_stale_emulator_override,
)

EXTERNAL_EMULATOR_ENV = "DOGOPS_EMULATOR_URL"


def build_lambda_zip(terraform_dir: Path = config.TERRAFORM_DIR) -> Path:
    """The deterministic Lambda zip where the root configuration reads it by default
    (`<terraform>/../build/lambda_function.zip`); rewritten only when its sources changed."""
    try:
        return _build_zip(config.LAMBDA_DIR, terraform_dir.parent / "build" / "lambda_function.zip")
    except LambdaPackageError as err:
        raise UserError(f"cannot package the Lambda: {err}") from None


@dataclass
class Backend:
    target: str
    region: str = config.DEFAULT_REGION
    endpoint_url: str | None = None
    terraform_dir: Path = config.TERRAFORM_DIR
    region_source: str = "default"
    assume_yes: bool = False  # --yes: AWS applies go ahead without asking (CI)
    confirm: Callable[[str], bool] | None = field(default=None, repr=False)
    _session: object = field(default=None, repr=False)
    # The environment (own state key, variable file, resource names); DOGOPS_ENV / --env.
    env: str = field(default_factory=config.current_env)

    # -- sessions ----------------------------------------------------------------------------
    @property
    def is_local(self) -> bool:
        return self.target == "local"

    def session(self):
        import boto3

        if self._session is None:
            if self.is_local:
                creds = self.emulator_credentials()
                self._session = boto3.Session(
                    aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                    region_name=self.region)
            else:  # the normal chain: AWS_PROFILE or the default profile, env credentials
                self._session = boto3.Session(region_name=self.region)
                if self._session.get_credentials() is None:
                    raise UserError(
                        "no AWS credentials found for --target aws: configure them (aws "
                        "configure, AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or "
                        "use --target local to run everything on the embedded emulator")
        return self._session

    def emulator_credentials(self) -> dict[str, str]:
        """The operator's key of the emulator (IAM is enforced there; see docs/security.md)."""
        from dogops.local_aws.emulator import operator_credentials

        return operator_credentials(self.endpoint_url or "")

    def client(self, service: str):
        return self.session().client(service, endpoint_url=self.endpoint_url)

    def client_environment(self) -> dict[str, str]:
        """Environment for child processes (endpoint host, EC2 user data) using this target."""
        env = {"AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}
        if self.is_local:
            env.update({"AWS_ENDPOINT_URL": self.endpoint_url or "", **self.emulator_credentials()})
        return env

    @contextlib.contextmanager
    def sdk_environment(self) -> Iterator[None]:
        """SDKs that build their own clients (SageMaker SDK) follow AWS_ENDPOINT_URL."""
        if not self.is_local:
            yield
            return
        creds = self.emulator_credentials()
        saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", *creds)}
        os.environ.update({"AWS_ENDPOINT_URL": self.endpoint_url or "",
                           "AWS_DEFAULT_REGION": self.region, **creds})
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    # -- terraform ---------------------------------------------------------------------------
    def terraform_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.is_local:
            env.update(self.emulator_credentials())
            for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
                env.pop(key, None)
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = self.region
        return env

    @contextlib.contextmanager
    def terraform(self, quiet: bool = False) -> Iterator[Terraform]:
        """An initialised Terraform for this target and environment: the S3 backend once
        `invoke bootstrap` configured it (required on aws); before that, on local, a state file
        under .dogops/local/."""
        paths = config.paths(self.target, self.env)
        remote = self.remote_backend_config()
        if not remote and not self.is_local:
            raise UserError("no remote state configured for --target aws: run `invoke bootstrap "
                            "--target aws` once (it creates the state bucket, writes "
                            f"terraform/{remote_state.AWS_BACKEND_FILE} and migrates any local "
                            "state)")
        if not remote:  # the local backend's own `path` (the -state flag is deprecated)
            paths.terraform_state.parent.mkdir(parents=True, exist_ok=True)
        tf = Terraform(working_dir=self.terraform_dir, env=self.terraform_env(),
                       data_dir=paths.terraform_data_dir, var_files=self.var_files(),
                       quiet=quiet,
                       backend_config=remote or [f"path={paths.terraform_state}"],
                       unlock_command=self.unlock_command())
        with contextlib.ExitStack() as stack:
            if self.is_local:
                stack.enter_context(emulator_override(self.endpoint_url or "http://localhost:4566",
                                                      self.terraform_dir))
                if not remote:
                    stack.enter_context(local_state_override(self.terraform_dir))
            else:
                remove_stale_emulator_override(self.terraform_dir)
                refuse_unmigrated_state(self.terraform_dir)
            tf.init()
            yield tf

    def remote_backend_config(self) -> list[str]:
        """-backend-config values for this environment's state in the S3 backend, after a
        preflight of the bucket (missing, other region or account: one clear line); [] when no
        backend file exists yet."""
        path = remote_state.backend_file(self.target, self.terraform_dir)
        if not path.is_file():
            return []
        settings = remote_state.read_settings(path)
        bucket, region = str(settings["bucket"]), str(settings["region"])
        s3 = self.session().client("s3", region_name=region, endpoint_url=self.endpoint_url)
        if remote_state.check_bucket(s3, bucket, region, self.account_id()):
            pass
        elif self.is_local:  # a restarted emulator lost the bucket along with every resource
            print(f"[local] state bucket {bucket} is gone (emulator restarted): creating it again")
            remote_state.create_bucket(s3, bucket, region)
        else:
            raise UserError(f"state bucket {bucket} (from {path}) does not exist: run `invoke "
                            "bootstrap --target aws` (or fix the bucket name in that file)")
        values = [str(path), f"key={remote_state.state_key(self.env)}"]
        if self.is_local:
            endpoints = path.parent / remote_state.EMULATOR_ENDPOINTS_FILE
            endpoints.write_text(remote_state.render(
                remote_state.emulator_settings(self.endpoint_url or ""),
                "Written on every run: the emulator's current endpoint (not for AWS)."))
            values.append(str(endpoints))
        return values

    def account_id(self) -> str | None:
        """The caller's account (None on the emulator, whose buckets carry no owner check)."""
        if self.is_local:
            return None
        return self.client("sts").get_caller_identity()["Account"]

    def unlock_command(self) -> str:
        env = "" if self.env == config.DEFAULT_ENV else f" --env {self.env}"
        return f"invoke unlock --target {self.target}{env} --lock-id {{lock_id}}"

    def var_files(self) -> list[Path]:
        """Emulator profile settings first, then the environment's own settings
        (terraform/envs/<env>.tfvars.json), then the recorded model (later files win)."""
        files = [self.terraform_dir / "emulator" / "emulator.tfvars.json"] if self.is_local else []
        if self.env != config.DEFAULT_ENV:
            files.append(self.terraform_dir / "envs" / f"{self.env}.tfvars.json")
        return [*files, config.paths(self.target, self.env).tfvars_file]

    def base_variables(self) -> dict[str, object]:
        """Variables the tooling always sets; builds the Lambda zip Terraform hashes if stale."""
        build_lambda_zip(self.terraform_dir)
        variables: dict[str, object] = {"region": self.region}
        if self.env != config.DEFAULT_ENV:
            variables["environment"] = self.env
        return variables

    def recorded_model(self) -> str | None:
        """The model this working copy recorded for the environment (train/promote), if any."""
        recorded = config.paths(self.target, self.env).tfvars_file
        if not recorded.is_file():
            return None
        return json.loads(recorded.read_text()).get("model_data_url") or None

    def model_variables(self, tf: Terraform) -> dict[str, object]:
        """With no model recorded here (a fresh clone, CI, another environment), keep the one
        the shared state says is live instead of planning the endpoint away; also stops the
        default environment's auto-loaded tfvars from leaking into another environment."""
        if self.recorded_model():
            return {}
        return {"model_data_url": tf.output().get("model_data_url")}

    def variables(self, extra: Mapping[str, object] | None = None):
        """The values Terraform will use (defaults, tfvars, the tooling's), before planning."""
        from dogops.tfvars import effective_variables

        return effective_variables(self.terraform_dir, self.var_files(), extra)

    def apply(self, extra: Mapping[str, object] | None = None) -> dict[str, object]:
        """Local: apply at once (adopting what an interrupted apply left behind). AWS: preflight,
        then plan -> review -> confirm -> apply that saved plan (a declined or interrupted
        confirmation changes nothing)."""
        if not self.is_local:
            from dogops import reviewed_apply

            return reviewed_apply.apply(self, extra)
        with self.terraform() as tf:
            variables = {**self.base_variables(), **self.model_variables(tf), **(extra or {})}
            try:
                tf.apply(variables)
            except UserError as err:
                self._adopt_orphans(tf, variables, err)
                tf.apply(variables)
            return tf.output()

    def _adopt_orphans(self, tf: Terraform, variables: Mapping[str, object],
                       err: UserError) -> None:
        """After an interrupted apply: import what it created but did not record, or re-raise."""
        from dogops.orphans import import_commands, orphans_in

        orphans = orphans_in(getattr(err, "stderr", ""))
        if not orphans:
            raise err
        if not self.is_local:
            raise UserError(f"{err}\nan interrupted apply left resources outside the state; if "
                            "they are this stack's, adopt them with:\n"
                            + import_commands(orphans), 1) from None
        print(f"[{self.target}] adopting {len(orphans)} resource(s) an interrupted apply "
              "created but did not record: " + ", ".join(ident for _, ident in orphans))
        recorded = set(tf.state_resources())
        for address, ident in orphans:
            if address in recorded:  # tainted by the interrupted read-back: adopt afresh
                tf.forget_resource(address)
            tf.import_resource(address, ident, variables)

    def outputs(self) -> dict[str, object]:
        with self.terraform(quiet=True) as tf:
            return tf.output()

    def ensure_stack(self) -> dict[str, object]:
        """Outputs of an applied stack whose bucket exists; applies when it does not yet."""
        outputs = self.outputs()
        bucket = outputs.get("bucket_name")
        if bucket and self._bucket_exists(str(bucket)):
            return outputs
        print(f"[{self.target}] creating the stack (bucket, roles, Lambda) with terraform apply")
        return self.apply()

    def _bucket_exists(self, bucket: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client("s3").head_bucket(Bucket=bucket)
            return True
        except ClientError:
            return False


def refuse_unmigrated_state(terraform_dir: Path) -> None:
    """A state file left in terraform/ (from before remote state) would be ignored by the S3
    backend and its resources orphaned: stop until bootstrap has migrated it."""
    local = Path(terraform_dir) / "terraform.tfstate"
    if remote_state.has_resources(local):
        raise UserError(f"{local} holds a local Terraform state: run `invoke bootstrap --target "
                        "aws` to migrate it into the S3 backend (nothing was changed)")


def emulator_port() -> int:
    from dogops.local_aws import emulator

    value = os.environ.get("DOGOPS_EMULATOR_PORT")
    try:
        return int(value) if value else emulator.DEFAULT_PORT
    except ValueError:
        raise UserError(f"DOGOPS_EMULATOR_PORT={value!r} is not a port number") from None


def for_target(target: str, start_emulator: bool = True, region: str | None = None,
               assume_yes: bool = False) -> Backend:
    """The backend for a target; for local, the emulator is started if it is not running.

    AWS: profile, region and credentials from the normal boto3 chain (`region` = --region
    wins); the account and region in use are printed before anything else happens."""
    config.check_target(target)
    # Tests point this at a copy of terraform/ so the override never lands in the shared tree.
    terraform_dir = Path(os.environ.get("DOGOPS_TERRAFORM_DIR") or config.TERRAFORM_DIR)
    if target == "aws":
        from dogops.aws_session import caller_identity, session_for

        _, choice = session_for(region)
        backend = Backend("aws", choice.region, terraform_dir=terraform_dir,
                          region_source=choice.source, assume_yes=assume_yes)
        backend.session()  # fail now, with a clear message, when there are no credentials
        identity = caller_identity(backend.session())  # expired/invalid: one clear line
        print(f"[aws] account {identity.get('Account')}, {choice.describe()}", file=sys.stderr)
        return backend
    if region and region != config.DEFAULT_REGION:
        raise UserError(f"--region applies to --target aws; the emulator runs in "
                        f"{config.DEFAULT_REGION}")
    from dogops.local_aws import emulator

    external = os.environ.get(EXTERNAL_EMULATOR_ENV)
    if external:  # an emulator someone else runs (e.g. LocalStack): used as it is
        return Backend("local", config.DEFAULT_REGION, external.rstrip("/"),
                       terraform_dir=terraform_dir)
    port = emulator_port()
    state_dir = config.paths("local").state_dir
    if start_emulator:
        url = emulator.start(port, state_dir).url
    else:
        url = emulator.endpoint_url(port)
    return Backend("local", config.DEFAULT_REGION, url, terraform_dir=terraform_dir)
