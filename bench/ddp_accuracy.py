"""Does N-process training give the 1-process model? Test accuracy on the digits sample.

    python -m bench.ddp_accuracy [--seeds 0 1 2] [--processes 1 2] [--isa native avx2]

Runs training/train.py for real (resnet18 from scratch, 16 px, 3 epochs, global batch 32) once
per seed and process count, under torchrun for N > 1 (gloo on CPU), with the same batch
contract the tooling uses (``--batch-size`` is the global batch). ``--isa avx2`` caps PyTorch's
kernels at AVX2 (``ATEN_CPU_CAPABILITY`` and ``ONEDNN_MAX_CPU_ISA``) to stand in for a CPU
without AVX-512: the same seed gives a different model there. Target: the N-process mean over
the seeds within 2 points of the 1-process mean, on every ISA.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "training") not in sys.path:
    sys.path.insert(0, str(REPO / "training"))
from classifier import cpu  # the training package, as the other benchmarks use it

TRAIN_PY = REPO / "training" / "train.py"
TARGET_POINTS = 2.0
# The test suite's digits settings (tests/training/conftest.py), with the global batch stated.
HPARAMS = ["--arch", "resnet18", "--pretrained", "none", "--freeze", "none", "--image-size", "16",
           "--batch-size", "32", "--learning-rate", "0.002", "--augment", "none",
           "--num-workers", "0", "--epochs", "3", "--export-onnx", "false"]
ISA_ENV = {"native": {}, "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}}


def capability(env: dict) -> str:
    code = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def train_once(data_dir: Path, work: Path, seed: int, processes: int, env: dict) -> dict:
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone",
                     f"--nproc_per_node={processes}"]
    out = work / f"p{processes}-s{seed}"
    command = [*launcher, str(TRAIN_PY), "--data-dir", str(data_dir), "--model-dir",
               str(out / "model"), "--output-dir", str(out / "output"), *HPARAMS,
               "--seed", str(seed)]
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO,
                            check=False)
    if result.returncode != 0:
        raise RuntimeError(f"training failed: {result.stderr[-2000:]}")
    metrics = json.loads((out / "output" / "metrics.json").read_text())
    return {"seed": seed, "processes": processes, "test_accuracy": metrics["test"]["accuracy"],
            "best_epoch": metrics["best_epoch"], "global_batch": metrics["batch"]["global"],
            "seconds": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.ddp_accuracy",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--isa", nargs="+", choices=sorted(ISA_ENV), default=["native", "avx2"])
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from dogops.sample_data import make_digits_imagefolder

    print(f"CPU: {cpu.summary()}; {os.cpu_count()} cores")
    report: dict = {"cpu": cpu.describe(), "runs": [], "summary": {}}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = make_digits_imagefolder(Path(tmp) / "digits", image_size=32, seed=0)
        for isa in args.isa:
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("SM_", "RANK", "WORLD_", "LOCAL_RANK", "MASTER_"))}
            env.update(ISA_ENV[isa])
            ran_on = capability(env)
            means = {}
            for processes in args.processes:
                runs = []
                for seed in args.seeds:
                    run = train_once(data_dir, Path(tmp) / isa, seed, processes, env)
                    run.update(isa=isa, kernels=ran_on)
                    runs.append(run)
                    print(f"  {isa:6s} ({ran_on}) {processes} process(es) seed {seed}: "
                          f"test accuracy {run['test_accuracy']:.4f} (best epoch "
                          f"{run['best_epoch']}, {run['seconds']} s)", flush=True)
                report["runs"] += runs
                means[processes] = statistics.mean(r["test_accuracy"] for r in runs)
            base = means[min(means)]
            for processes, mean in sorted(means.items()):
                gap = (mean - base) * 100
                ok = abs(gap) <= TARGET_POINTS
                print(f"{isa} ({ran_on}): {processes} process(es) mean test accuracy {mean:.4f} "
                      f"over seeds {args.seeds}; {gap:+.2f} points vs {min(means)} process "
                      f"{'(within' if ok else '(OUTSIDE'} the {TARGET_POINTS:g}-point target)")
                report["summary"][f"{isa}/{processes}"] = {"mean": mean, "gap_points": gap,
                                                           "kernels": ran_on}
    return report


if __name__ == "__main__":
    json.dump(main(), sys.stdout, indent=2)
    print()
