"""The model archive serves with no package index: what an endpoint under network isolation needs.

The model.tar.gz these tests open is the session's real training run (tests/training/conftest.py)
with code/ written from a source_dir that carries the inference image's wheels (what `invoke
train` ships: training/ + wheels/ staged by dogops.serving_wheels). Nothing here may reach an index: pip's configuration is replaced
by /dev/null and PIP_INDEX_URL points at a closed port.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest
from conftest import REPO, train_env

from dogops import serving_wheels
from dogops.local_aws.training_job import pack_model

pytestmark = pytest.mark.slow

UNREACHABLE_INDEX = "http://127.0.0.1:9/simple"  # discard port: nothing listens


def offline_pip_env(**extra: str) -> dict[str, str]:
    """This process's environment minus every pip setting (this machine's config adds mirrors
    and find-links), plus an index that cannot answer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=UNREACHABLE_INDEX, PIP_NO_INDEX="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


COPY_SERVING_CODE = ("import sys; from pathlib import Path; "
                     "from classifier.artifacts import copy_serving_code; "
                     "copy_serving_code(Path(sys.argv[1]))")


@pytest.fixture(scope="module")
def image_archive(trained, tmp_path_factory) -> Path:
    """model.tar.gz as a training job from a source_dir with the image's wheels writes it: the
    session's real training run (weights, ONNX, config), its code/ written by the training
    code's own copy_serving_code running from that source_dir, packed like the local job."""
    root = tmp_path_factory.mktemp("sealed")
    source = root / "source_dir"
    shutil.copytree(REPO / "training", source,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "wheels"))
    serving_wheels.stage(serving_wheels.IMAGE_TARGET, dest=source / "wheels")
    model = root / "model"
    shutil.copytree(trained.model_dir, model, ignore=shutil.ignore_patterns("code"))
    result = subprocess.run(
        [sys.executable, "-c", COPY_SERVING_CODE, str(model / "code")],
        capture_output=True, text=True, env={**train_env(), "PYTHONPATH": str(source)},
        timeout=120, check=False, cwd=source)
    assert result.returncode == 0, result.stdout + result.stderr
    return pack_model(model, root / "model.tar.gz")


def extract(archive: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest


def dry_run(code_dir: Path, target: serving_wheels.Target, work: Path):
    """Resolve code/requirements.txt for ``target`` as its pip would, from code/wheels only."""
    return subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index",
         "--only-binary=:all:", *target.pip_args(), "--target", str(work / "target"),
         "-r", str(code_dir / "requirements.txt")],
        capture_output=True, text=True, env=offline_pip_env(), timeout=300, check=False,
        cwd=work)  # a relative find-links must not resolve against the cwd


def test_archive_carries_the_locked_wheels_for_the_image(image_archive, tmp_path):
    model_dir = extract(image_archive, tmp_path / "model")
    wheels = model_dir / "code" / "wheels"
    assert serving_wheels.complete(wheels, serving_wheels.IMAGE_TARGET), sorted(
        p.name for p in wheels.iterdir())
    assert not serving_wheels.complete(wheels, serving_wheels.Target("3.11"))
    assert any(p.name.startswith("onnxruntime-1.31.1-cp312-") for p in wheels.iterdir())
    requirements = (model_dir / "code" / "requirements.txt").read_text().splitlines()
    assert "--no-index" in requirements and "--find-links wheels" in requirements


def test_requirements_resolve_for_the_image_with_no_index(image_archive, tmp_path):
    code_dir = extract(image_archive, tmp_path / "model") / "code"
    result = dry_run(code_dir, serving_wheels.IMAGE_TARGET, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Would install" in result.stdout and "onnxruntime-1.31.1" in result.stdout


def test_resolution_fails_when_a_wheel_is_missing(image_archive, tmp_path):
    code_dir = extract(image_archive, tmp_path / "model") / "code"
    (protobuf,) = (code_dir / "wheels").glob("protobuf-*.whl")
    protobuf.unlink()  # a dependency of onnxruntime, not the top-level requirement
    result = dry_run(code_dir, serving_wheels.IMAGE_TARGET, tmp_path)
    assert result.returncode != 0
    assert "protobuf" in result.stderr.lower()


# ---------------------------------------------------------------------------------------------
# The serving contract, installed from the archive alone

SERVE = r"""
import base64, json, sys
from sagemaker_inference import environment, model_server

# What the PyTorch container does at start: `pip install -r code/requirements.txt` ...
model_server._install_requirements()
# ... and code/ on the workers' PYTHONPATH (sagemaker_pytorch_serving_container.torchserve).
sys.path.insert(0, environment.code_dir)
from sagemaker_pytorch_serving_container.handler_service import HandlerService


class Context:
    # The slice of TorchServe's Context that the toolkit's Transformer reads and writes.
    def __init__(self, model_dir, content_type):
        self.system_properties = {"model_dir": model_dir}
        self.headers = {"Content-Type": content_type, "Accept": "application/json"}
        self.request_processor = [self]
        self.status = 200

    def get_request_properties(self):
        return self.headers

    def set_response_status(self, code, phrase):
        self.status = code

    def set_response_content_type(self, index, content_type):
        pass


service = HandlerService()
service.initialize(Context(environment.model_dir, "image/png"))
answers = []
for path in sys.argv[1:]:
    with open(path, "rb") as stream:
        body = stream.read()
    context = Context(environment.model_dir, "image/png")
    (answer,) = service.handle([{"body": body}], context)
    answers.append({"status": context.status, "body": answer})
model = service._service._model
print(json.dumps({"backend": model.backend, "precision": model.precision, "answers": answers}))
"""

PKG_RESOURCES_SHIM = '''"""Only what sagemaker_inference.model_server imports pkg_resources for (setuptools >= 81 no
longer ships pkg_resources; the container's older setuptools does)."""
import importlib
import os


def resource_filename(package, resource):
    module = importlib.import_module(package)
    return os.path.join(os.path.dirname(module.__file__), resource.lstrip("/"))
'''


def sealed_venv(root: Path) -> Path:
    """A fresh venv that sees this one's packages (torch, numpy, the toolkits, pip) except
    onnxruntime, like the image before its requirements are installed. Returns its python."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    shared = Path(sysconfig.get_paths()["purelib"])
    view = root / "shared-site"  # the shared site-packages, one symlink per entry
    view.mkdir()
    for entry in shared.iterdir():
        if entry.name.lower().startswith("onnxruntime") or entry.suffix == ".pth":
            continue
        (view / entry.name).symlink_to(entry)
    shim = root / "shim"
    shim.mkdir()
    (shim / "pkg_resources.py").write_text(PKG_RESOURCES_SHIM)
    python = venv / "bin" / "python"
    probe = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True)
    Path(site.stdout.strip(), "shared.pth").write_text(f"{view}\n{shim}\n")
    return python


def test_serving_contract_holds_with_wheels_from_the_archive_alone(
        image_archive, digits_dir, tmp_path):
    base = tmp_path / "opt_ml"
    model_dir = extract(image_archive, base / "model")
    # Same pinned versions, built for this interpreter (the image's are CPython 3.12).
    wheels = model_dir / "code" / "wheels"
    shutil.rmtree(wheels)
    shutil.copytree(serving_wheels.download(serving_wheels.LOCAL_TARGET), wheels)
    python = sealed_venv(tmp_path)
    env = offline_pip_env(SAGEMAKER_BASE_DIR=str(base), SAGEMAKER_PROGRAM="inference.py")
    env.pop("PYTHONPATH", None)
    before = subprocess.run([str(python), "-c", "import onnxruntime"], capture_output=True,
                            text=True, env=env, check=False)
    assert before.returncode != 0, "onnxruntime must come from code/wheels, not this venv"

    images = [min((digits_dir / "test" / name).glob("*.png"))
              for name in sorted(os.listdir(digits_dir / "test"))]
    result = subprocess.run([str(python), "-c", SERVE, *map(str, images)], capture_output=True,
                            text=True, env=env, timeout=600, check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["backend"] == "onnxruntime"  # not the PyTorch fallback
    assert all(answer["status"] == 200 for answer in served["answers"]), served["answers"]
    labels = [json.loads(answer["body"])["predictions"][0]["label"]
              for answer in served["answers"]]
    expected = [image.parent.name.split(".", 1)[1] for image in images]
    correct = sum(got == want for got, want in zip(labels, expected, strict=True))
    assert correct >= 8, list(zip(labels, expected))  # one image per digit, a 3-epoch model
    assert "Processing" in result.stdout + result.stderr  # pip installed from code/wheels
