"""The training loop: sample-weighted metrics, AMP on GPU, early stopping, checkpoint/resume."""

from __future__ import annotations

import copy
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from classifier import checkpoint as ckpt
from classifier.distributed import DistContext, all_reduce_sum, barrier
from classifier.model import (
    revert_sync_batchnorm,
    set_train_mode,
    trainable_parameters,
    training_view,
)

log = logging.getLogger("classifier")


@dataclass
class EvalResult:
    loss: float
    accuracy: float
    samples: int
    confusion: torch.Tensor  # [true, predicted] counts over all ranks


@dataclass
class FitConfig:
    epochs: int
    learning_rate: float
    weight_decay: float = 0.0
    patience: int = 3
    min_delta: float = 0.0
    checkpoint_dir: Path | None = None
    fingerprint: dict = field(default_factory=dict)
    channels_last: bool = True
    sync_batchnorm: bool = True  # honoured where PyTorch supports it: CUDA (NCCL)
    progress: bool | None = None  # None: a bar only when stderr is a terminal


@dataclass
class FitResult:
    history: list[dict]
    best_epoch: int
    best_valid_loss: float
    best_valid_accuracy: float
    stopped_early: bool
    sync_batchnorm: bool
    resumed_from_epoch: int
    train_images_per_s: float


def _progress(loader, enabled: bool, desc: str):
    if not enabled:
        return loader
    try:
        from tqdm import tqdm
    except ImportError:
        return loader
    return tqdm(loader, desc=desc, leave=False, dynamic_ncols=True)


def _autocast(device: torch.device):
    # float16 AMP on GPU; CPU keeps float32 (bf16 autocast is slower on CPUs without AMX).
    return torch.autocast("cuda", dtype=torch.float16, enabled=device.type == "cuda")


def _to_device(images, targets, device, channels_last):
    images = images.to(device, non_blocking=True)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images, targets.to(device, non_blocking=True)


def train_one_epoch(
    model: nn.Module,
    loader,
    optimizer: torch.optim.Optimizer,
    scaler,
    ctx: DistContext,
    *,
    channels_last: bool = True,
    progress: bool = False,
    desc: str = "train",
    scheduler=None,
) -> tuple[float, float, int]:
    """One pass; returns (mean loss, accuracy, samples) weighted by samples over all ranks."""
    set_train_mode(model.module if isinstance(model, DistributedDataParallel) else model)
    criterion = nn.CrossEntropyLoss(reduction="sum")
    totals = torch.zeros(3, dtype=torch.float64, device=ctx.device)  # loss sum, correct, n
    for images, targets in _progress(loader, progress, desc):
        images, targets = _to_device(images, targets, ctx.device, channels_last)
        optimizer.zero_grad(set_to_none=True)
        with _autocast(ctx.device):
            logits = model(images)
            loss_sum = criterion(logits.float(), targets)
        # Gradient of the batch mean; the sum is kept for exact sample-weighted epoch loss.
        scaler.scale(loss_sum / targets.numel()).backward()
        scaler.step(optimizer)
        scaler.update()
        if scheduler is not None:
            scheduler.step()
        totals[0] += loss_sum.detach().to(torch.float64)
        totals[1] += (logits.detach().argmax(1) == targets).sum()
        totals[2] += targets.numel()
    all_reduce_sum(totals, ctx)
    n = int(totals[2].item())
    return totals[0].item() / max(n, 1), totals[1].item() / max(n, 1), n


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    loader,
    ctx: DistContext,
    num_classes: int,
    *,
    channels_last: bool = True,
    progress: bool = False,
    desc: str = "eval",
) -> EvalResult:
    """Evaluate the plain module (not the DDP wrapper: ranks may hold different batch counts)."""
    model.eval()
    criterion = nn.CrossEntropyLoss(reduction="sum")
    loss_sum = torch.zeros(1, dtype=torch.float64, device=ctx.device)
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=ctx.device)
    for images, targets in _progress(loader, progress, desc):
        images, targets = _to_device(images, targets, ctx.device, channels_last)
        with _autocast(ctx.device):
            logits = model(images)
        loss_sum += criterion(logits.float(), targets).to(torch.float64)
        flat = targets * num_classes + logits.argmax(1)
        confusion += torch.bincount(flat, minlength=num_classes**2).view(num_classes, num_classes)
    all_reduce_sum(loss_sum, ctx)
    all_reduce_sum(confusion, ctx)
    n = int(confusion.sum().item())
    correct = int(confusion.diag().sum().item())
    return EvalResult(
        loss=loss_sum.item() / max(n, 1),
        accuracy=correct / max(n, 1),
        samples=n,
        confusion=confusion.cpu(),
    )


def warmup_cosine(optimizer, steps_per_epoch: int, epochs: int):
    """Linear warm-up over the first half epoch, then cosine decay to zero at the last step:
    the last epochs take small steps, so the model saved at the end (or the best epoch) depends
    far less on the seed and on the number of processes than with a constant rate."""
    total = max(1, steps_per_epoch * epochs)
    warmup = max(1, steps_per_epoch // 2)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def uses_sync_batchnorm(ctx: DistContext, wanted: bool = True) -> bool:
    """SyncBatchNorm all-reduces batch statistics over the processes; PyTorch runs it on CUDA
    (NCCL) only. On gloo/CPU each process normalises its own share of the global batch, and DDP
    copies rank 0's running statistics to every rank at each forward."""
    return wanted and ctx.distributed and ctx.device.type == "cuda"


def metric_line(epoch: int, train_loss: float, valid: EvalResult) -> str:
    return (
        f"epoch={epoch} train_loss={train_loss:.4f} valid_loss={valid.loss:.4f} "
        f"valid_accuracy={valid.accuracy:.4f}"
    )


def fit(
    model: nn.Module,
    loaders: dict,
    ctx: DistContext,
    num_classes: int,
    config: FitConfig,
    emit=print,
) -> FitResult:
    """Train with early stopping on validation loss; ``model`` ends holding the best weights."""
    progress = (sys.stderr.isatty() if config.progress is None else config.progress) and ctx.is_main
    model.to(ctx.device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    params = trainable_parameters(model)
    if not params:
        raise ValueError("the freeze policy left no trainable parameters")
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = warmup_cosine(optimizer, len(loaders["train"]), config.epochs)
    scaler = torch.amp.GradScaler("cuda", enabled=ctx.device.type == "cuda")

    history: list[dict] = []
    best_state = None
    best_loss, best_epoch, stale, start_epoch = math.inf, 0, 0, 1
    state = ckpt.load_checkpoint(config.checkpoint_dir, config.fingerprint)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        scheduler.load_state_dict(state["scheduler"])
        history, best_state = state["history"], state["best_model"]
        best_loss, best_epoch, stale = state["best_valid_loss"], state["best_epoch"], state["stale"]
        start_epoch = state["epoch"] + 1
        if ctx.is_main:
            log.info(
                "resuming from checkpoint of epoch %d; next epoch %d", state["epoch"], start_epoch
            )
    resumed_from = start_epoch - 1
    stopped_early = state is not None and state.get("stopped_early", False)

    # Frozen leading stages run as a folded, gradient-free copy (built after any resume).
    view = training_view(model, config.channels_last)
    synced = uses_sync_batchnorm(ctx, config.sync_batchnorm)
    if synced:  # converts the live modules in place, sharing parameters and buffers
        view = nn.SyncBatchNorm.convert_sync_batchnorm(view)
    train_model = view
    if ctx.distributed:
        device_ids = [ctx.local_rank] if ctx.device.type == "cuda" else None
        train_model = DistributedDataParallel(view, device_ids=device_ids)

    images_seen, train_seconds = 0, 0.0
    epoch = start_epoch
    while epoch <= config.epochs and not stopped_early:
        sampler = getattr(loaders["train"], "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        started = time.perf_counter()
        train_loss, train_acc, seen = train_one_epoch(
            train_model,
            loaders["train"],
            optimizer,
            scaler,
            ctx,
            channels_last=config.channels_last,
            progress=progress,
            desc=f"epoch {epoch} train",
            scheduler=scheduler,
        )
        train_seconds += time.perf_counter() - started
        images_seen += seen
        if epoch == start_epoch and ctx.is_main and hasattr(view, "runtime_used"):
            log.info("frozen stages ran on %s", view.runtime_used if ctx.device.type == "cpu" else "cuda")
        valid = evaluate(
            view,
            loaders["valid"],
            ctx,
            num_classes,
            channels_last=config.channels_last,
            progress=progress,
            desc=f"epoch {epoch} valid",
        )
        history.append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "train_accuracy": train_acc,
                "valid_loss": valid.loss,
                "valid_accuracy": valid.accuracy,
            }
        )
        if valid.loss < best_loss - config.min_delta:
            best_loss, best_epoch, stale = valid.loss, epoch, 0
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        stopped_early = stale >= config.patience and epoch < config.epochs
        if ctx.is_main:
            emit(metric_line(epoch, train_loss, valid))
            if config.checkpoint_dir is not None:
                ckpt.save_checkpoint(
                    config.checkpoint_dir,
                    {
                        "fingerprint": config.fingerprint,
                        "epoch": epoch,
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scaler": scaler.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "history": history,
                        "best_model": best_state,
                        "best_valid_loss": best_loss,
                        "best_epoch": best_epoch,
                        "stale": stale,
                        "stopped_early": stopped_early,
                    },
                )
        barrier(ctx)  # nobody races ahead of the checkpoint write
        if stopped_early and ctx.is_main:
            log.info("early stopping: validation loss has not improved for %d epochs", stale)
        epoch += 1

    if synced:
        revert_sync_batchnorm(model)
    if best_state is not None:
        model.load_state_dict(best_state)
    best_row = next((row for row in history if row["epoch"] == best_epoch), {})
    return FitResult(
        history=history,
        best_epoch=best_epoch,
        best_valid_loss=best_loss,
        best_valid_accuracy=best_row.get("valid_accuracy", 0.0),
        stopped_early=stopped_early,
        sync_batchnorm=synced,
        resumed_from_epoch=resumed_from,
        train_images_per_s=images_seen / train_seconds if train_seconds else 0.0,
    )


def best_line(result: FitResult) -> str:
    """The tuner's objective line: the validation metrics of the weights that are saved."""
    return (
        f"best_epoch={result.best_epoch} best_valid_loss={result.best_valid_loss:.4f} "
        f"best_valid_accuracy={result.best_valid_accuracy:.4f}"
    )


def clone_for_export(model: nn.Module) -> nn.Module:
    """Plain contiguous-format CPU copy for saving and ONNX export."""
    return copy.deepcopy(model).to("cpu", memory_format=torch.contiguous_format).eval()
