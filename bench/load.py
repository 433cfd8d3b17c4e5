"""Load on the local runtime: the endpoint host and the Lambda path at 1, 8 and 32 clients.

    .venv/bin/python -m bench.load [--seconds 10] [--host-32-seconds 60] [--out docs]

Loopback only. Builds a real servable model dir (resnet18, random weights, the repository's own
training/inference.py, ONNX), starts an emulator on a free port with its own state dir, creates
what the stack creates for the Lambda path with boto3 (SageMaker model/config/endpoint, the real
Lambda zip with the stack's defaults: 256 MB, 30 s, reserved concurrency 10, alias `live` with
provisioned concurrency 1) and serves the endpoint from a detached host, as `invoke deploy` does.

Closed-loop clients (each sends its next request when the previous one answered), a thread each:
  host    POST /invocations with a JPEG on a keep-alive connection
  lambda  lambda:Invoke of `live` (no client retries, so a throttle is counted, not hidden), the
          handler calling InvokeEndpoint through the emulator; a throttled client waits 50 ms
          before its next request, as a backing-off client would
Counted separately: ok, errors (connection errors, 5xx, FunctionError), throttles (429). A
baseline in the same run: warm Lambda overhead = client latency - handler `Duration` (REPORT
line) of a no-op function, target <= 15 ms p50. Writes docs/load_throughput.png and
docs/load_latency_cdf.png, prints the CPU instruction sets.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENDPOINT = "bench-load-endpoint"
CLIENT_LEVELS = (1, 8, 32)
RESERVED, PROVISIONED, MEMORY_MB, TIMEOUT_S = 10, 1, 256, 30  # terraform/variables.tf defaults
THROTTLE_BACKOFF_S = 0.05
OVERHEAD_TARGET_MS = 15.0


def cpu_isa() -> str:
    """The CPU line every benchmark prints (classifier.cpu: model, vector extensions, kernels)."""
    if str(REPO / "training") not in sys.path:
        sys.path.insert(0, str(REPO / "training"))
    from classifier import cpu

    return cpu.summary()


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# -- setup -----------------------------------------------------------------------------------
def build_model_dir(target: Path) -> Path:
    """A servable model dir written by the training code's own artifact writer."""
    sys.path.insert(0, str(REPO / "training"))
    import torch
    from classifier import artifacts
    from classifier.model import build_model

    torch.manual_seed(0)
    names = [f"{i:03d}.Breed_{i}" for i in range(1, 11)]
    model = build_model("resnet18", len(names), pretrained="none")
    config = artifacts.model_config("resnet18", names, 224, (0.485, 0.456, 0.406),
                                    (0.229, 0.224, 0.225))
    artifacts.write_model_dir(target, model, config, export_onnx=True)
    return target


def sample_jpeg() -> bytes:
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.chelsea()).resize((320, 240)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def lambda_zip_noop() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("noop.py", "def handler(event, context):\n    return {'ok': True}\n")
    return buffer.getvalue()


class Stack:
    """Emulator + endpoint resources + detached host + Lambda functions, torn down on exit."""

    def __init__(self, root: Path):
        from dogops.local_aws import emulator
        from dogops.local_aws.moto_patches import endpoint_registry

        self.root = root
        self.state_dir = root / "state"
        sock_port = _free_port()
        self.port = sock_port
        emulator.start(sock_port, self.state_dir)
        self.env = emulator.client_environment(sock_port)
        self.endpoint_url = emulator.endpoint_url(sock_port)
        self._registry = endpoint_registry

    def client(self, service: str, retries: int = 1, pool: int = 64):
        import boto3
        from botocore.config import Config

        config = Config(retries={"total_max_attempts": retries}, max_pool_connections=pool,
                        read_timeout=60)
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name="us-east-1",
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
                            config=config)

    def deploy(self, model_dir: Path) -> str:
        from dogops import lambda_package
        from dogops.local_aws import endpoint_host

        sm, iam, lam = self.client("sagemaker", 3), self.client("iam", 3), self.client("lambda", 3)
        sm.create_model(ModelName=ENDPOINT, ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
                        PrimaryContainer={"Image": "pytorch-inference:2.6.0-cpu-py312"})
        sm.create_endpoint_config(EndpointConfigName=ENDPOINT, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": ENDPOINT, "InitialInstanceCount": 1,
            "InstanceType": "ml.g5.xlarge"}])
        sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)
        self.host = endpoint_host.start_host(ENDPOINT, str(model_dir), state_dir=self.state_dir,
                                             env=self.env, timeout_s=300)
        # The emulator enforces IAM: the functions' role is trusted by Lambda and may invoke the
        # endpoint and write the functions' logs, like the stack's Lambda role.
        role = iam.create_role(RoleName="bench-load", AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
        iam.put_role_policy(RoleName="bench-load", PolicyName="invoke-and-log",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                                {"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint",
                                 "Resource": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/"
                                             f"{ENDPOINT.lower()}"},
                                {"Effect": "Allow",
                                 "Action": ["logs:CreateLogGroup", "logs:CreateLogStream",
                                            "logs:PutLogEvents"],
                                 "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:"
                                             "/aws/lambda/bench-*"}]}))
        for name, code, handler, env in (
            ("bench-front-door", lambda_package.zip_bytes(), "lambda_function.lambda_handler",
             {"ENDPOINT_NAME": ENDPOINT}),
            ("bench-noop", lambda_zip_noop(), "noop.handler", {}),
        ):
            lam.create_function(FunctionName=name, Runtime="python3.11", Role=role,
                                Handler=handler, Code={"ZipFile": code}, Timeout=TIMEOUT_S,
                                MemorySize=MEMORY_MB, Environment={"Variables": env})
            version = lam.publish_version(FunctionName=name)["Version"]
            lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
        lam.put_function_concurrency(FunctionName="bench-front-door",
                                     ReservedConcurrentExecutions=RESERVED)
        lam.put_provisioned_concurrency_config(FunctionName="bench-front-door", Qualifier="live",
                                               ProvisionedConcurrentExecutions=PROVISIONED)
        deadline = time.monotonic() + 60
        while lam.get_provisioned_concurrency_config(
                FunctionName="bench-front-door", Qualifier="live")["Status"] != "READY":
            if time.monotonic() > deadline:
                raise RuntimeError("provisioned concurrency did not become READY in 60 s")
            time.sleep(0.2)
        return self.host.url

    def close(self) -> None:
        from dogops.local_aws import emulator, endpoint_host

        endpoint_host.stop_host(ENDPOINT, self.state_dir)
        emulator.stop(self.port, self.state_dir)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- load ------------------------------------------------------------------------------------
def run_level(one_request, clients: int, seconds: float) -> dict:
    """`clients` closed-loop threads calling `one_request(state) -> (outcome, latency_s)`."""
    latencies: list[float] = []
    counts = {"ok": 0, "error": 0, "throttle": 0}
    errors: dict[str, int] = {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    start = threading.Barrier(clients)

    def client() -> None:
        state: dict = {}
        start.wait()
        while time.monotonic() < stop:
            outcome, latency, detail = one_request(state)
            with lock:
                counts[outcome] += 1
                if outcome == "ok":
                    latencies.append(latency)
                elif outcome == "error":
                    errors[detail] = errors.get(detail, 0) + 1
            if outcome == "throttle":
                time.sleep(THROTTLE_BACKOFF_S)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    ms = [x * 1000 for x in latencies]
    return {
        "clients": clients, "seconds": round(elapsed, 1), "ok": counts["ok"],
        "errors": counts["error"], "throttles": counts["throttle"], "error_kinds": errors,
        "throughput_rps": round(counts["ok"] / elapsed, 1),
        "p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1), "latencies_ms": ms,
    }


def host_request(url: str, image: bytes):
    import requests

    def one(state: dict):
        session = state.setdefault("session", requests.Session())
        began = time.perf_counter()
        try:
            reply = session.post(f"{url}/invocations", data=image, timeout=60,
                                 headers={"Content-Type": "image/jpeg"})
        except requests.RequestException as err:
            state.pop("session").close()
            return "error", 0.0, type(err).__name__
        latency = time.perf_counter() - began
        if reply.status_code == 200 and "predictions" in reply.json():
            return "ok", latency, ""
        return "error", latency, f"HTTP {reply.status_code}"

    return one


def lambda_request(stack: Stack, image: bytes):
    from botocore.exceptions import BotoCoreError, ClientError

    payload = json.dumps({"image": base64.b64encode(image).decode()}).encode()

    def one(state: dict):
        lam = state.get("client") or state.setdefault("client", stack.client("lambda"))
        began = time.perf_counter()
        try:
            reply = lam.invoke(FunctionName="bench-front-door", Qualifier="live", Payload=payload)
            body = json.loads(reply["Payload"].read())
        except ClientError as err:
            if err.response["Error"]["Code"] == "TooManyRequestsException":
                return "throttle", 0.0, ""
            return "error", 0.0, err.response["Error"]["Code"]
        except BotoCoreError as err:
            return "error", 0.0, type(err).__name__
        latency = time.perf_counter() - began
        if "FunctionError" in reply:
            return "error", latency, f"FunctionError {body.get('errorType')}"
        if body.get("statusCode") != 200:
            return "error", latency, f"status {body.get('statusCode')}"
        return "ok", latency, ""

    return one


def lambda_overhead(stack: Stack, requests: int) -> dict:
    """Warm invocations of a no-op function: client latency minus the handler's Duration."""
    lam = stack.client("lambda")
    api = []  # baseline: the emulator's plain API round trip, same client, same run
    for _ in range(requests):
        began = time.perf_counter()
        lam.get_function_configuration(FunctionName="bench-noop", Qualifier="live")
        api.append((time.perf_counter() - began) * 1000)
    overheads, durations, totals = [], [], []
    for index in range(requests + 5):
        began = time.perf_counter()
        reply = lam.invoke(FunctionName="bench-noop", Qualifier="live", Payload=b"{}",
                           LogType="Tail")
        total_ms = (time.perf_counter() - began) * 1000
        tail = base64.b64decode(reply["LogResult"]).decode()
        duration = float(re.search(r"\tDuration: ([0-9.]+) ms", tail).group(1))
        if index >= 5:  # the first calls include the cold start
            totals.append(total_ms)
            durations.append(duration)
            overheads.append(total_ms - duration)
    return {"requests": requests, "overhead_p50_ms": round(statistics.median(overheads), 2),
            "overhead_p95_ms": round(percentile(overheads, 95), 2),
            "handler_p50_ms": round(statistics.median(durations), 3),
            "client_p50_ms": round(statistics.median(totals), 2),
            "api_round_trip_p50_ms": round(statistics.median(api), 2)}


# -- plots -----------------------------------------------------------------------------------
def plot(results: dict, out: Path, isa: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    throughput_png, cdf_png = out / "load_throughput.png", out / "load_latency_cdf.png"
    fig, (ax, ax_throttle) = plt.subplots(1, 2, figsize=(9.6, 4.2))
    for path, levels in results.items():
        xs = [lvl["clients"] for lvl in levels]
        ax.plot(xs, [lvl["throughput_rps"] for lvl in levels], marker="o", label=path)
        ax_throttle.plot(xs, [lvl["throttles"] / lvl["seconds"] for lvl in levels], marker="x",
                         label=path)
    for axis, title in ((ax, "successful requests per second"),
                        (ax_throttle, "throttled (429) per second")):
        axis.set_xscale("log", base=2)
        axis.set_xticks(CLIENT_LEVELS, [str(c) for c in CLIENT_LEVELS])
        axis.set_xlabel("concurrent clients")
        axis.set_title(title, fontsize=10)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
        axis.set_ylim(bottom=0)
    fig.suptitle("Throughput vs concurrency (loopback, errors: see README table)", fontsize=11)
    ax.text(0.0, -0.2, isa, transform=ax.transAxes, fontsize=7)
    fig.tight_layout()
    fig.savefig(throughput_png, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for path, levels in results.items():
        for lvl in levels:
            ms = sorted(lvl["latencies_ms"])
            if ms:
                ax.plot(ms, [(i + 1) / len(ms) for i in range(len(ms))],
                        label=f"{path}, {lvl['clients']} clients")
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("fraction of requests")
    ax.set_title("Latency CDF (successful requests)", fontsize=11)
    ax.text(0.01, -0.2, isa, transform=ax.transAxes, fontsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(cdf_png, dpi=110)
    plt.close(fig)
    return [throughput_png, cdf_png]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="per level (default 10)")
    parser.add_argument("--host-32-seconds", type=float, default=60.0,
                        help="the host at 32 clients (default 60, the issue's check)")
    parser.add_argument("--overhead-requests", type=int, default=200)
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args(argv)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    isa = cpu_isa()
    print(f"CPU: {isa}; load average before the run {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-load-") as scratch:
        root = Path(scratch)
        image = sample_jpeg()
        started = time.monotonic()
        model_dir = build_model_dir(root / "model")
        stack = Stack(root)
        try:
            url = stack.deploy(model_dir)
            print(f"setup {time.monotonic() - started:.0f} s (model dir, emulator, host "
                  f"with {stack.host.url}, functions)", flush=True)
            overhead = lambda_overhead(stack, args.overhead_requests)
            print(f"warm Lambda overhead (no-op handler, {args.overhead_requests} calls): p50 "
                  f"{overhead['overhead_p50_ms']} ms, p95 {overhead['overhead_p95_ms']} ms "
                  f"(handler p50 {overhead['handler_p50_ms']} ms; baseline: a plain emulator "
                  f"API call p50 {overhead['api_round_trip_p50_ms']} ms); target <= "
                  f"{OVERHEAD_TARGET_MS} ms p50: "
                  f"{'met' if overhead['overhead_p50_ms'] <= OVERHEAD_TARGET_MS else 'MISSED'}",
                  flush=True)
            results: dict[str, list[dict]] = {"host": [], "lambda": []}
            for path, one in (("host", host_request(url, image)),
                              ("lambda", lambda_request(stack, image))):
                run_level(one, 2, 2.0)  # warm-up, not counted
                for clients in CLIENT_LEVELS:
                    seconds = (args.host_32_seconds if (path, clients) == ("host", 32)
                               else args.seconds)
                    level = run_level(one, clients, seconds)
                    results[path].append(level)
                    print(f"{path:6s} {clients:2d} clients {level['seconds']:5.1f} s: "
                          f"{level['throughput_rps']:6.1f} ok/s  p50 {level['p50_ms']:7.1f}  "
                          f"p95 {level['p95_ms']:7.1f}  p99 {level['p99_ms']:7.1f} ms  "
                          f"ok {level['ok']}  errors {level['errors']} {level['error_kinds']}  "
                          f"throttles {level['throttles']}", flush=True)
        finally:
            stack.close()
    pictures = plot(results, args.out, isa)
    print("plots: " + ", ".join(str(p) for p in pictures))
    summary = {path: [{k: v for k, v in lvl.items() if k != "latencies_ms"} for lvl in levels]
               for path, levels in results.items()}
    return {"cpu": isa, "lambda_overhead": overhead, "levels": summary,
            "run_id": uuid.uuid4().hex[:8]}


if __name__ == "__main__":
    main()
