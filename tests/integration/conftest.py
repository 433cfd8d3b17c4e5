"""One emulated stack for the integration tests, isolated from the repository's own state.

Terraform runs in a copy of terraform/ (so the emulator override never appears in the shared
tree), state lives under a temp dir, and the emulator listens on a free port. The `backend`
parameter runs the same tests against moto (always) and LocalStack (when an auth token and a
Docker engine are present; otherwise skipped with the reason).

By default the moto backend starts its own emulator; with DOGOPS_IT_KEEP_EMULATOR_URL=1 and
DOGOPS_EMULATOR_URL set, it uses that (already running, empty) emulator instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from dogops import config

IGNORED = shutil.ignore_patterns(".terraform", "*.tfstate*", "emulator_*_override.tf",
                                 "*.auto.tfvars.json", ".terraform.lock.hcl")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def docker_engine_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20,
                              check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def start_localstack(port: int) -> str:
    """LocalStack Pro in Docker (SageMaker, real Lambda runtimes need it); returns its URL."""
    name = f"dogops-it-{port}"
    subprocess.run(["docker", "run", "-d", "--rm", "--name", name, "-p", f"{port}:4566",
                    "-e", "LOCALSTACK_AUTH_TOKEN", "-v", "/var/run/docker.sock:/var/run/docker.sock",
                    "localstack/localstack-pro"], check=True, capture_output=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/_localstack/health", timeout=2).ok:
                return url
        except requests.RequestException:
            pass
        time.sleep(2)
    subprocess.run(["docker", "rm", "-f", name], check=False, capture_output=True)
    pytest.fail("LocalStack did not become healthy within 180 s")


@pytest.fixture(scope="module", params=["moto", "localstack"])
def workspace(request, tmp_path_factory):
    """(kind, root) with terraform/ + policies/ copied and all dogops state inside root."""
    kind = request.param
    if kind == "localstack":
        if not os.environ.get("LOCALSTACK_AUTH_TOKEN"):
            pytest.skip("LocalStack backend: LOCALSTACK_AUTH_TOKEN is not set (LocalStack's image "
                        "needs an auth token since 2026-03); the moto backend ran instead")
        if not docker_engine_available():
            pytest.skip("LocalStack backend: no Docker engine answers `docker info`")
    root = tmp_path_factory.mktemp(f"stack-{kind}")
    shutil.copytree(config.TERRAFORM_DIR, root / "terraform", ignore=IGNORED)
    shutil.copytree(config.REPO_ROOT / "policies", root / "policies")
    patch = pytest.MonkeyPatch()
    patch.setattr(config, "STATE_ROOT", root / ".dogops")
    patch.setattr(config, "TERRAFORM_DIR", root / "terraform")
    patch.setenv("DOGOPS_TERRAFORM_DIR", str(root / "terraform"))
    patch.setenv("DOGOPS_EMULATOR_PORT", str(free_port()))
    patch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(config.REPO_ROOT / "tests" /
                                                       "sagemaker_config.yaml"))
    container_url = None
    if kind == "localstack":
        container_url = start_localstack(free_port())
        patch.setenv("DOGOPS_EMULATOR_URL", container_url)
    elif not os.environ.get("DOGOPS_IT_KEEP_EMULATOR_URL"):
        patch.delenv("DOGOPS_EMULATOR_URL", raising=False)
    try:
        yield kind, root
    finally:
        from dogops.backend import emulator_port
        from dogops.deploy import stop_local_hosts
        from dogops.local_aws import emulator

        stop_local_hosts()
        emulator.stop(emulator_port(), config.paths("local").state_dir)
        if container_url:
            port = container_url.rsplit(":", 1)[1]
            subprocess.run(["docker", "rm", "-f", f"dogops-it-{port}"], check=False,
                           capture_output=True)
        patch.undo()
        # the provider binary copied by `terraform init` is ~700 MB: do not leave it in /tmp
        shutil.rmtree(root / ".dogops" / "local" / "terraform-data", ignore_errors=True)


@pytest.fixture(scope="module")
def digits(workspace) -> Path:
    """A small slice of the real digits dataset (ImageFolder), so each epoch takes seconds."""
    from dogops.sample_data import make_digits_imagefolder

    _, root = workspace
    full = make_digits_imagefolder(root / "digits-full")
    small = root / "digits"
    for split, keep in (("train", 40), ("valid", 8), ("test", 8)):
        for folder in sorted((full / split).iterdir()):
            target = small / split / folder.name
            target.mkdir(parents=True)
            for image in sorted(folder.glob("*.png"))[:keep]:
                shutil.copy2(image, target / image.name)
    return small
