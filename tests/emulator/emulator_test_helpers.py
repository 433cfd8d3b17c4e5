"""Helpers for the emulator tests: a free port, and a tiny real model directory.

The model directory follows the artifact layout of docs/DESIGN.md: resnet18 with random weights (no weights can be downloaded here) and a test-local inference.py
that follows the serving contract: images as bytes, JSON as str, InferenceError(status, message).
"""

from __future__ import annotations

import json
import socket
import tarfile
from pathlib import Path

import torch
import torchvision


def create_lambda_role(iam, name: str, statements: list[dict] | None = None) -> str:
    """A Lambda execution role: trusted by lambda.amazonaws.com (the emulator enforces IAM and
    assumes it for the function's environments), allowed to write the logs of Lambda functions
    (policy "logs"), with `statements` as its inline policy "test"."""
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="logs", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/*"}]}))
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="test", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
    return arn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CLASS_NAMES = ["001.Affenpinscher", "046.Carolina_dog", "100.Lowchen"]

INFERENCE_SOURCE = """
import base64
import io
import json

import torch
import torchvision
from PIL import Image, UnidentifiedImageError


class InferenceError(Exception):
    def __init__(self, status_code, message):
        self.status_code = status_code
        self.message = json.dumps({"error": message, "status": status_code})
        super().__init__(self.message)


def model_fn(model_dir):
    with open(f"{model_dir}/model_config.json") as handle:
        config = json.load(handle)
    model = torchvision.models.resnet18(weights=None, num_classes=config["num_classes"])
    model.load_state_dict(torch.load(f"{model_dir}/model.pth", weights_only=True))
    model.eval()
    return {"net": model, "config": config}


def input_fn(body, content_type, context):
    # takes the optional context: the host must pass it
    if content_type in ("image/jpeg", "image/png", "application/x-image"):
        assert isinstance(body, bytes)
        raw = body
    elif content_type == "application/json":
        assert isinstance(body, str)
        request = json.loads(body)
        if request.get("boom"):
            raise RuntimeError("secret internals that must not reach the caller")
        raw = base64.b64decode(request["image"])
    else:
        raise InferenceError(415, f"unsupported content type {content_type}")
    try:
        image = Image.open(io.BytesIO(raw)).convert("RGB").resize((32, 32))
    except UnidentifiedImageError:
        raise InferenceError(400, "body is not an image")
    pixels = torch.tensor(list(image.getdata()), dtype=torch.float32).reshape(32, 32, 3)
    return pixels.permute(2, 0, 1).unsqueeze(0) / 255.0


def predict_fn(batch, model):
    with torch.no_grad():
        return torch.softmax(model["net"](batch), dim=1)[0], model["config"]["labels"]


def output_fn(prediction, accept):
    if accept != "application/json":
        raise InferenceError(406, f"unsupported accept {accept}")
    probabilities, labels = prediction
    order = probabilities.argsort(descending=True).tolist()
    return json.dumps({"predictions": [
        {"label": labels[i], "probability": round(float(probabilities[i]), 6)} for i in order
    ]})
"""


def make_model_dir(root: Path) -> Path:
    model_dir = root / "model"
    (model_dir / "code").mkdir(parents=True)
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None, num_classes=len(CLASS_NAMES))
    torch.save(net.state_dict(), model_dir / "model.pth")
    labels = [name.split(".", 1)[1].replace("_", " ") for name in CLASS_NAMES]
    config = {
        "arch": "resnet18",
        "num_classes": len(CLASS_NAMES),
        "image_size": 32,
        "class_names": CLASS_NAMES,
        "labels": labels,
    }
    (model_dir / "model_config.json").write_text(json.dumps(config))
    (model_dir / "code" / "inference.py").write_text(INFERENCE_SOURCE)
    (model_dir / "code" / "requirements.txt").write_text("")
    return model_dir


def make_model_archive(model_dir: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        for path in sorted(model_dir.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(model_dir)), recursive=False)
    return archive
