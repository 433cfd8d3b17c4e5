"""torchrun / SageMaker torch_distributed setup: one process per device, rank 0 logs and saves."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist


class DistributedError(RuntimeError):
    pass


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _check_not_independent_copies(world_size: int) -> None:
    """SageMaker multi-instance without a launcher runs N unrelated copies of the script (the
    starter's "multi-instance" bug); refuse instead of silently wasting N-1 instances."""
    hosts = json.loads(os.environ.get("SM_HOSTS", "[]") or "[]")
    if len(hosts) > 1 and world_size == 1:
        raise DistributedError(
            f"{len(hosts)} SageMaker hosts but no distributed launcher: enable "
            "distribution={'torch_distributed': {'enabled': True}} on the estimator"
        )


def init_distributed(force_cpu: bool = False) -> DistContext:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    _check_not_independent_copies(world_size)
    use_cuda = torch.cuda.is_available() and not force_cpu
    if world_size == 1:
        return DistContext(device=torch.device("cuda" if use_cuda else "cpu"))
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


@dataclass(frozen=True)
class BatchPlan:
    """The batch contract: ``--batch-size`` is the global batch of one optimiser step, split
    evenly over the processes. N processes then take the same steps per epoch with the same
    learning rate as one process does, whether under local torchrun or SageMaker's
    ``torch_distributed`` (one process per GPU on every instance)."""

    global_batch: int
    per_process: int
    world_size: int

    def describe(self, steps_per_epoch: int, learning_rate: float) -> str:
        split = (
            f"{self.world_size} processes x {self.per_process}"
            if self.world_size > 1
            else "1 process"
        )
        return (
            f"batch: global {self.global_batch} ({split}); {steps_per_epoch} steps per epoch; "
            f"learning rate {learning_rate:g}"
        )


def plan_batch(global_batch: int, world_size: int) -> BatchPlan:
    """Split the global batch; a remainder is dropped (and the smaller global batch printed)."""
    if global_batch < world_size:
        raise DistributedError(
            f"--batch-size {global_batch} is the global batch and cannot be split over "
            f"{world_size} processes: use at least {world_size}"
        )
    per_process = global_batch // world_size
    return BatchPlan(per_process * world_size, per_process, world_size)


def all_reduce_sum(tensor: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum over ranks (in place); gloo and nccl both take tensors on the process's device."""
    if ctx.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        if ctx.device.type == "cuda":
            dist.barrier(device_ids=[ctx.local_rank])
        else:
            dist.barrier()


def cleanup(ctx: DistContext) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()
