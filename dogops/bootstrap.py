"""`invoke bootstrap`: the state bucket once, the backend file, and local states migrated into it.

Idempotent: a second run finds the bucket (checked for region, owner and settings) and the backend
file, and migrates nothing. On AWS the bucket is shown before it is created and created only after
a yes (a prompt, or --yes where nobody can answer one). A local state is migrated with
`terraform init -migrate-state` and then moved aside as `terraform.tfstate.migrated-<time>`,
never deleted; a state that already exists remotely is never overwritten.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dogops import config, remote_state
from dogops.backend import Backend
from dogops.errors import UserError
from dogops.terraform import Terraform, emulator_override, local_state_override


@dataclass(frozen=True)
class LocalState:
    env: str
    path: Path


def local_states(backend: Backend) -> list[LocalState]:
    """State files from before remote state: aws kept its state in terraform/ (one env only);
    the emulator keeps one per environment under .dogops/local/."""
    if not backend.is_local:
        found = [LocalState(config.DEFAULT_ENV, backend.terraform_dir / "terraform.tfstate")]
    else:
        found = [LocalState(config.DEFAULT_ENV, config.paths("local", config.DEFAULT_ENV)
                            .terraform_state)]
        envs_dir = config.paths("local").state_dir / "envs"
        if envs_dir.is_dir():
            found += [LocalState(d.name, d / "terraform.tfstate") for d in sorted(envs_dir.iterdir())
                      if d.is_dir() and config.ENV_NAME_PATTERN.match(d.name)]
    return [item for item in found if remote_state.has_resources(item.path)]


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def bootstrap(backend: Backend, state_bucket: str | None = None, yes: bool = False,
              confirm: Callable[[str], bool] = _confirm) -> Path:
    """Create (or check) the state bucket, write the backend file, migrate local states."""
    path = remote_state.backend_file(backend.target, backend.terraform_dir)
    existing = remote_state.read_settings(path) if path.is_file() else {}
    account = backend.account_id()
    region = str(existing.get("region") or backend.region)
    if state_bucket and existing and state_bucket != existing["bucket"]:
        raise UserError(f"{path} already uses state bucket {existing['bucket']}: nothing changed "
                        "(move the state with terraform init -migrate-state by hand to switch)")
    bucket = remote_state.check_bucket_name(
        state_bucket or str(existing.get("bucket") or "")
        or remote_state.default_bucket_name(
            account or backend.client("sts").get_caller_identity()["Account"], region))
    s3 = backend.session().client("s3", region_name=region, endpoint_url=backend.endpoint_url)

    if remote_state.check_bucket(s3, bucket, region, account):
        missing = remote_state.missing_settings(s3, bucket)
        if missing:
            raise UserError(f"state bucket {bucket} exists but lacks {', '.join(missing)}: fix "
                            "its settings (or pick another --state-bucket); nothing changed")
        print(f"[{backend.target}] state bucket {bucket} exists ({region}; versioned, "
              "encrypted, private)")
    else:
        print(f"[{backend.target}] bootstrap will:")
        for line in remote_state.creation_steps(bucket, region):
            print(f"  {line}")
        if not backend.is_local and not yes and not confirm("create it?"):
            raise UserError("state bucket not created: answer y, or pass --yes where nobody can "
                            "answer a prompt (CI)")
        remote_state.create_bucket(s3, bucket, region)
        print(f"[{backend.target}] created s3://{bucket}")

    text = remote_state.render(remote_state.backend_settings(bucket, region), (
        "Terraform S3 backend settings, written by `invoke bootstrap`. Each environment adds\n"
        "-backend-config=key=dogops/<env>/terraform.tfstate at init."
        + ("\nCommit this file: every clone and CI runner then shares the same state."
           if not backend.is_local else "")))
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"[{backend.target}] wrote {path}")

    for item in local_states(backend):
        migrate(backend, item, s3, bucket)
    return path


def migrate(backend: Backend, item: LocalState, s3, bucket: str) -> None:
    """terraform init -migrate-state from the local file into the env's key; verified, then the
    local file is moved aside (kept)."""
    if remote_state.state_exists(s3, bucket, item.env):
        raise UserError(f"both {item.path} and s3://{bucket}/{remote_state.state_key(item.env)} "
                        "hold a state: nothing migrated; compare them (terraform state pull) "
                        "and move the stale one aside")
    local = json.loads(item.path.read_text())
    env_backend = Backend(backend.target, backend.region, backend.endpoint_url,
                          terraform_dir=backend.terraform_dir, _session=backend._session,
                          env=item.env)
    remote = env_backend.remote_backend_config()
    tf = Terraform(working_dir=backend.terraform_dir, env=backend.terraform_env(),
                   data_dir=config.paths(backend.target, item.env).terraform_data_dir, backend_config=[f"path={item.path.resolve()}"], quiet=True)
    print(f"[{backend.target}] migrating {item.path} -> s3://{bucket}/"
          f"{remote_state.state_key(item.env)}")
    with contextlib.ExitStack() as stack:
        if backend.is_local:
            stack.enter_context(emulator_override(backend.endpoint_url or "", backend.terraform_dir))
        with local_state_override(backend.terraform_dir):
            tf.init()  # the local backend, reading item.path
        tf.migrate_state(remote)
        _, pulled = tf.run("state", "pull", capture=True)
    copied = json.loads(pulled or "{}")
    # The S3 backend writes the copy under a new lineage: compare what the state holds.
    if [copied.get(k) for k in ("resources", "outputs")] != [local.get(k) for k in
                                                            ("resources", "outputs")]:
        raise UserError(f"migration of {item.path} could not be verified (the remote copy "
                        "differs): the local file was kept; inspect with terraform state pull", 1)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    kept = item.path.with_name(f"{item.path.name}.migrated-{stamp}")
    item.path.rename(kept)
    print(f"[{backend.target}] migrated; the local state is kept as {kept}")
