"""Train the dog-breed classifier: SageMaker script mode, torchrun (DDP), EC2 or a laptop.

SageMaker passes hyperparameters as CLI flags and paths through SM_* variables; elsewhere:

    python training/train.py --data-dir DATA --model-dir OUT/model --output-dir OUT/output

Under ``torchrun --nproc_per_node=N`` the same command trains with DistributedDataParallel.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

# The script's own directory holds the classifier package (true under SageMaker and torchrun).
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from classifier import artifacts, data, distributed, engine, report
from classifier.checkpoint import CheckpointError
from classifier.fingerprint import run_fingerprint
from classifier.model import ARCHITECTURES, FREEZE_POLICIES, ModelError, build_model
from classifier.preprocess import IMAGENET_MEAN, IMAGENET_STD

log = logging.getLogger("classifier")
SAGEMAKER_CHECKPOINT_DIR = "/opt/ml/checkpoints"


def _bool(value: str) -> bool:
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {value!r}")


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return number


def _default_checkpoint_dir() -> str | None:
    # SageMaker syncs this directory to S3 for managed spot training; only use it when present.
    return SAGEMAKER_CHECKPOINT_DIR if os.path.isdir(SAGEMAKER_CHECKPOINT_DIR) else None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    hp = parser.add_argument_group("hyperparameters")
    hp.add_argument("--epochs", type=_positive_int, default=10)
    hp.add_argument(
        "--batch-size",
        type=_positive_int,
        default=32,
        help="global batch of one optimiser step, split evenly over all processes",
    )
    hp.add_argument("--learning-rate", type=_positive_float, default=1e-3)
    hp.add_argument("--weight-decay", type=float, default=0.0)
    hp.add_argument("--arch", choices=sorted(ARCHITECTURES), default="resnet50")
    hp.add_argument(
        "--pretrained",
        default="imagenet",
        help="imagenet (downloads torchvision's weights), none, or a path to a weights file",
    )
    hp.add_argument(
        "--freeze",
        choices=FREEZE_POLICIES,
        default="head",
        help="head: train only the new head; last-block: also layer4; none: all",
    )
    hp.add_argument("--image-size", type=_positive_int, default=224)
    hp.add_argument(
        "--augment",
        choices=data.AUGMENTATIONS,
        default="standard",
        help="standard: random resized crop + flip; crop: no flip; none",
    )
    hp.add_argument(
        "--patience",
        type=_positive_int,
        default=3,
        help="epochs without validation-loss improvement before stopping",
    )
    hp.add_argument("--seed", type=int, default=0)
    hp.add_argument("--num-workers", type=int, default=data.default_num_workers())
    hp.add_argument(
        "--export-onnx",
        type=_bool,
        default=True,
        help="also write model.onnx for the ONNX Runtime serving path",
    )
    hp.add_argument(
        "--quantize-int8",
        type=_bool,
        default=True,
        help="also write a static int8 ONNX model, served only if its test accuracy is within "
        "0.5 points of float32's and its top-1 agrees on >= 99%% of test images",
    )
    hp.add_argument(
        "--top-k",
        type=_positive_int,
        default=3,
        help="default number of predictions the endpoint returns",
    )
    hp.add_argument("--cpu", type=_bool, default=False, help="ignore GPUs")
    paths = parser.add_argument_group("paths (default from SageMaker's SM_* variables)")
    paths.add_argument(
        "--data-dir",
        default=env("SM_CHANNEL_TRAINING"),
        help="directory holding train/ valid/ test/",
    )
    paths.add_argument("--train-dir", default=env("SM_CHANNEL_TRAIN"))
    paths.add_argument("--valid-dir", default=env("SM_CHANNEL_VALID"))
    paths.add_argument("--test-dir", default=env("SM_CHANNEL_TEST"))
    paths.add_argument("--model-dir", default=env("SM_MODEL_DIR"))
    paths.add_argument("--output-dir", default=env("SM_OUTPUT_DATA_DIR"))
    paths.add_argument("--checkpoint-dir", default=_default_checkpoint_dir())
    args = parser.parse_args(argv)
    for name in ("model_dir", "output_dir"):
        if not getattr(args, name):
            parser.error(f"--{name.replace('_', '-')} is required outside SageMaker")
    if args.num_workers < 0:
        parser.error("--num-workers must be >= 0")
    return args


def run(args: argparse.Namespace, ctx: distributed.DistContext) -> dict:
    torch.manual_seed(args.seed)  # same initial head on every rank (DDP also broadcasts it)
    split_dirs = data.resolve_split_dirs(
        args.data_dir, args.train_dir, args.valid_dir, args.test_dir
    )
    splits = data.load_splits(split_dirs, args.image_size, args.augment)
    class_names = splits.class_names
    if ctx.is_main:
        log.info(
            "data: %s; %d classes; train/valid/test = %s; world size %d on %s",
            {k: str(v) for k, v in split_dirs.items()},
            len(class_names),
            "/".join(str(len(splits.datasets[s])) for s in data.SPLITS),
            ctx.world_size,
            ctx.device,
        )
        if os.environ.get("SM_CURRENT_HOST"):
            log.info(
                "SageMaker host %s of %s", os.environ["SM_CURRENT_HOST"], os.environ.get("SM_HOSTS")
            )
    model = build_model(args.arch, len(class_names), args.pretrained, args.freeze)
    batch = distributed.plan_batch(args.batch_size, ctx.world_size)
    pin = ctx.device.type == "cuda"
    loaders = {
        split: data.build_loader(
            splits.datasets[split],
            batch_size=batch.per_process,
            train=split == "train",
            num_workers=args.num_workers,
            rank=ctx.rank,
            world_size=ctx.world_size,
            seed=args.seed,
            pin_memory=pin,
        )
        for split in data.SPLITS
    }
    steps_per_epoch = len(loaders["train"])
    if ctx.is_main:
        log.info("%s", batch.describe(steps_per_epoch, args.learning_rate))
        if batch.global_batch != args.batch_size:
            log.info(
                "--batch-size %d is not a multiple of %d processes: global batch %d",
                args.batch_size,
                ctx.world_size,
                batch.global_batch,
            )
        if ctx.distributed:
            log.info(
                "BatchNorm: %s",
                "synchronised over all processes (SyncBatchNorm)"
                if engine.uses_sync_batchnorm(ctx)
                else f"per process over {batch.per_process} images (gloo: SyncBatchNorm needs "
                "CUDA); running statistics are rank 0's",
            )
    fingerprint = run_fingerprint(
        vars(args), class_names, ctx.world_size, split_dirs, Path(__file__).resolve().parent
    )
    config = engine.FitConfig(
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        weight_decay=args.weight_decay,
        patience=args.patience,
        checkpoint_dir=Path(args.checkpoint_dir) if args.checkpoint_dir else None,
        fingerprint=fingerprint,
        channels_last=True,
    )
    started = time.perf_counter()
    result = engine.fit(
        model, loaders, ctx, len(class_names), config, emit=lambda line: print(line, flush=True)
    )
    test = engine.evaluate(model, loaders["test"], ctx, len(class_names))
    metrics = {}
    if ctx.is_main:
        # The tuner's objective (best_valid_loss) is the saved model's, not the last epoch's.
        print(engine.best_line(result), flush=True)
        print(f"test_loss={test.loss:.4f} test_accuracy={test.accuracy:.4f}", flush=True)
        saved = artifacts.write_model_dir(
            Path(args.model_dir),
            engine.clone_for_export(model),
            artifacts.model_config(
                args.arch,
                class_names,
                args.image_size,
                IMAGENET_MEAN,
                IMAGENET_STD,
                top_k=min(args.top_k, len(class_names)),
            ),
            export_onnx=args.export_onnx,
            # Calibrate on validation images; int8 kept only by its accuracy on test.
            int8_data=(splits.datasets["valid"], splits.datasets["test"])
            if args.quantize_int8
            else None,
        )
        metrics = {
            "hyperparameters": {k: v for k, v in vars(args).items() if not k.endswith("_dir")},
            "world_size": ctx.world_size,
            "batch": {
                "global": batch.global_batch,
                "per_process": batch.per_process,
                "steps_per_epoch": steps_per_epoch,
                "sync_batchnorm": result.sync_batchnorm,
            },
            "device": str(ctx.device),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "history": result.history,
            "best_epoch": result.best_epoch,
            "best_valid_loss": result.best_valid_loss,
            "best_valid_accuracy": result.best_valid_accuracy,
            "stopped_early": result.stopped_early,
            "resumed_from_epoch": result.resumed_from_epoch,
            "train_images_per_s": result.train_images_per_s,
            "seconds": time.perf_counter() - started,
            "onnx": saved["onnx"],
            "int8": saved.get("int8"),
            "test": {
                "loss": test.loss,
                "accuracy": test.accuracy,
                "samples": test.samples,
                "confusion_matrix": test.confusion.tolist(),
            },
        }
        report.write_report(Path(args.output_dir), metrics, saved["labels"])
        log.info("model written to %s, metrics to %s", args.model_dir, args.output_dir)
    distributed.barrier(ctx)
    return metrics


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = parse_args(argv)
    ctx = None
    try:
        ctx = distributed.init_distributed(force_cpu=args.cpu)
        if not ctx.is_main:
            logging.getLogger().setLevel(logging.WARNING)  # only rank 0 logs progress
        run(args, ctx)
    except (data.DataError, ModelError, CheckpointError, distributed.DistributedError) as error:
        log.error("%s", error)
        return 2
    finally:
        if ctx is not None:
            distributed.cleanup(ctx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
