"""Fast checks of the core pieces: sample data, labels, preprocessing parity, freezing, metrics,
samplers and checkpoints."""

from __future__ import annotations

import hashlib
import itertools
import time

import pytest
import torch
from classifier import checkpoint, data, engine
from classifier.distributed import DistContext
from classifier.model import (
    ModelError,
    apply_freeze,
    build_model,
    set_train_mode,
    training_view,
)
from classifier.preprocess import EvalTransform, prepare_image
from PIL import Image
from skimage import data as skdata
from torch import nn

from dogops.sample_data import CLASS_NAMES, human_label, make_digits_imagefolder, sample_image


def tree_digest(root) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.png")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_sample_data_layout_is_complete_and_stratified(digits_dir):
    for split in data.SPLITS:
        assert sorted(p.name for p in (digits_dir / split).iterdir()) == list(CLASS_NAMES)
    counts = {s: len(list((digits_dir / s).glob("*/*.png"))) for s in data.SPLITS}
    assert sum(counts.values()) == 1797  # every real digit, exactly once
    assert counts["train"] > 4 * counts["test"] > 0
    with Image.open(next((digits_dir / "train" / "001.zero").glob("*.png"))) as image:
        assert image.size == (32, 32)


def test_sample_data_is_deterministic_and_skips_when_complete(tmp_path, digits_dir):
    first = make_digits_imagefolder(tmp_path / "a", image_size=32, seed=0)
    assert tree_digest(first) == tree_digest(digits_dir)
    started = time.perf_counter()
    make_digits_imagefolder(first, image_size=32, seed=0)
    assert time.perf_counter() - started < 1.0  # already complete: nothing rewritten
    other = make_digits_imagefolder(tmp_path / "b", image_size=32, seed=1)
    assert tree_digest(other) != tree_digest(first)


def test_sample_data_rebuilds_a_partial_tree(tmp_path):
    root = make_digits_imagefolder(tmp_path / "d", image_size=16)
    victim = next((root / "test").glob("*/*.png"))
    victim.unlink()
    make_digits_imagefolder(root, image_size=16)
    assert victim.is_file()


def test_sample_image_and_human_labels(digits_dir):
    path, label = sample_image(digits_dir)
    assert path.is_file() and path.parent.name == "008.seven" and label == "seven"
    assert human_label("046.Carolina_dog") == "Carolina dog"
    assert data.human_label("046.Carolina_dog") == "Carolina dog"
    assert data.human_label("no_prefix") == "no prefix"


def test_eval_preprocessing_is_shared_with_serving():
    photo = Image.fromarray(skdata.chelsea())
    from_pil = EvalTransform(224)(photo)
    tensor = torch.from_numpy(skdata.chelsea()).permute(2, 0, 1).contiguous()
    assert torch.equal(from_pil, prepare_image(tensor, 224))
    assert from_pil.shape == (3, 224, 224)
    # normalised: roughly zero-centred, unit scale
    assert -1.5 < from_pil.mean().item() < 1.5 and 0.3 < from_pil.std().item() < 2.0


def test_freeze_policies_and_frozen_batchnorm_statistics():
    model = build_model("resnet18", 5, freeze="head")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"fc.weight", "fc.bias"}
    apply_freeze(model, "last-block")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("layer4.", "fc.")) for n in trainable)
    apply_freeze(model, "head")
    before = model.bn1.running_mean.clone()
    set_train_mode(model)
    assert not model.bn1.training and model.fc.training
    model(torch.randn(4, 3, 32, 32))
    assert torch.equal(before, model.bn1.running_mean)  # frozen means frozen statistics too
    with pytest.raises(ModelError):
        apply_freeze(model, "everything")
    with pytest.raises(ModelError):
        build_model("vgg16", 5)


@pytest.mark.parametrize("policy", ["head", "last-block"])
def test_training_view_computes_the_model_and_trains_only_the_live_tail(policy):
    torch.manual_seed(0)
    model = build_model("resnet18", 5, freeze=policy)
    view = training_view(model, channels_last=False)
    assert view is not model
    view.bf16 = False  # exact comparison; bf16 is a precision choice, not a different function
    set_train_mode(view)
    model.eval()
    set_train_mode(model)  # the same modes the live model would train in
    images = torch.randn(4, 3, 32, 32)
    assert torch.allclose(view(images), model(images), atol=1e-4)
    assert not view.frozen.training
    assert all(not p.requires_grad for p in view.frozen.parameters())
    view(images).sum().backward()
    assert model.fc.weight.grad is not None  # gradients reach the live weights
    assert model.conv1.weight.grad is None
    plain = build_model("resnet18", 5, freeze="none")
    assert training_view(plain) is plain


def test_pretrained_weights_file_loads_backbone_and_replaces_head(tmp_path):
    source = build_model("resnet18", 7)
    path = tmp_path / "weights.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, path)
    model = build_model("resnet18", 3, pretrained=str(path))
    assert torch.equal(model.conv1.weight, source.conv1.weight)
    assert model.fc.out_features == 3
    torch.save(build_model("resnet34", 7).state_dict(), path)
    with pytest.raises(ModelError, match="does not match"):
        build_model("resnet18", 3, pretrained=str(path))


class Fixed(nn.Module):
    """Predicts class 0 with a known loss, whatever the input."""

    def forward(self, x):
        return torch.tensor([[2.0, 0.0]]).repeat(x.shape[0], 1)


def test_evaluation_is_sample_weighted_over_uneven_batches():
    images = torch.zeros(5, 3, 4, 4)
    targets = torch.tensor([0, 0, 0, 1, 1])
    loader = [(images[:4], targets[:4]), (images[4:], targets[4:])]  # batches of 4 and 1
    result = engine.evaluate(Fixed(), loader, DistContext(), 2, channels_last=False)
    per_sample = nn.functional.cross_entropy(Fixed()(images), targets, reduction="none")
    assert result.loss == pytest.approx(per_sample.mean().item())  # not a mean of batch means
    assert result.accuracy == pytest.approx(3 / 5)
    assert result.confusion.tolist() == [[3, 0], [2, 0]]


def test_shard_sampler_covers_each_index_once():
    shards = [list(data.ShardSampler(11, rank, 3)) for rank in range(3)]
    assert sorted(i for shard in shards for i in shard) == list(range(11))


def test_checkpoint_is_atomic_and_belongs_to_its_run(tmp_path):
    state = {"fingerprint": {"arch": "resnet18"}, "epoch": 2, "w": torch.ones(3)}
    saved = checkpoint.save_checkpoint(tmp_path, state)
    assert [p.name for p in tmp_path.iterdir()] == [saved.name]  # no temp file left
    assert saved.name == f"checkpoint-{checkpoint.run_key({'arch': 'resnet18'})}.pt"
    loaded = checkpoint.load_checkpoint(tmp_path, {"arch": "resnet18"})
    assert loaded["epoch"] == 2 and torch.equal(loaded["w"], torch.ones(3))
    assert checkpoint.load_checkpoint(tmp_path / "empty", {"arch": "resnet18"}) is None
    # Another run (anything different) in the same place starts fresh and leaves this one be.
    assert checkpoint.load_checkpoint(tmp_path, {"arch": "resnet50"}) is None
    assert saved.is_file()
    saved.write_bytes(b"torn")
    with pytest.raises(checkpoint.CheckpointError, match="unreadable"):
        checkpoint.load_checkpoint(tmp_path, {"arch": "resnet18"})


def test_run_fingerprint_covers_data_code_hyperparameters_and_job(tmp_path, monkeypatch):
    from classifier.fingerprint import run_fingerprint

    (tmp_path / "data" / "train" / "a").mkdir(parents=True)
    image = tmp_path / "data" / "train" / "a" / "1.png"
    image.write_bytes(b"x" * 10)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text("print(1)\n")
    splits = {"train": tmp_path / "data" / "train"}
    hps = {"learning_rate": 0.01, "model_dir": "/a"}
    monkeypatch.delenv("TRAINING_JOB_NAME", raising=False)

    def key(**changes):
        return checkpoint.run_key(
            run_fingerprint(changes.get("hps", hps), ["a"], changes.get("world", 1), splits,
                            tmp_path / "code"))

    base = key()
    assert key(hps={"learning_rate": 0.01, "model_dir": "/elsewhere"}) == base  # paths only
    assert key(hps={"learning_rate": 0.02, "model_dir": "/a"}) != base
    assert key(world=2) != base
    image.write_bytes(b"x" * 11)
    assert key() != base
    image.write_bytes(b"x" * 10)
    (tmp_path / "code" / "train.py").write_text("print(2)\n")
    assert key() != base
    (tmp_path / "code" / "train.py").write_text("print(1)\n")
    assert key() == base
    monkeypatch.setenv("TRAINING_JOB_NAME", "dog-breeds-hpo-001-abc")  # a tuning child
    assert key() != base


@pytest.mark.parametrize(
    ("global_batch", "world", "per_process", "effective"),
    [(32, 1, 32, 32), (32, 2, 16, 16 * 2), (37, 8, 4, 32), (8, 8, 1, 8)],
)
def test_batch_contract_splits_the_global_batch(global_batch, world, per_process, effective):
    from classifier.distributed import plan_batch

    plan = plan_batch(global_batch, world)
    assert (plan.per_process, plan.global_batch, plan.world_size) == (per_process, effective, world)
    assert f"global {effective}" in plan.describe(10, 0.001)


def test_batch_smaller_than_the_process_count_is_refused():
    from classifier.distributed import DistributedError, plan_batch

    with pytest.raises(DistributedError, match="at least 4"):
        plan_batch(3, 4)


def test_sync_batchnorm_is_reverted_to_the_plain_architecture_sharing_weights():
    from classifier.model import revert_sync_batchnorm

    model = build_model("resnet18", 4)
    bn = model.layer1[0].bn1
    weight, running_mean = bn.weight, bn.running_mean
    synced = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(synced.layer1[0].bn1, nn.SyncBatchNorm)
    assert synced.layer1[0].bn1.weight is weight
    revert_sync_batchnorm(synced)
    plain = synced.layer1[0].bn1
    assert type(plain) is nn.BatchNorm2d
    assert plain.weight is weight and plain.running_mean is running_mean
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in synced.modules())
    assert set(synced.state_dict()) == set(build_model("resnet18", 4).state_dict())


def test_sync_batchnorm_only_where_pytorch_supports_it():
    cpu_pair = DistContext(rank=0, world_size=2)
    assert not engine.uses_sync_batchnorm(cpu_pair)  # gloo on CPU: per-process statistics
    gpu_pair = DistContext(rank=0, world_size=2, device=torch.device("cuda", 0))
    assert engine.uses_sync_batchnorm(gpu_pair)
    assert not engine.uses_sync_batchnorm(gpu_pair, wanted=False)
    assert not engine.uses_sync_batchnorm(DistContext(device=torch.device("cuda", 0)))


def test_mismatched_classes_between_splits_are_refused(tmp_path, small_digits_dir):
    import shutil

    shutil.copytree(small_digits_dir, tmp_path / "d")
    shutil.rmtree(tmp_path / "d" / "valid" / "003.two")
    dirs = data.resolve_split_dirs(str(tmp_path / "d"))
    with pytest.raises(data.DataError, match="valid classes differ"):
        data.load_splits(dirs, 16, "none")


def test_learning_rate_warms_up_then_decays_to_zero_at_the_last_step():
    parameter = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=0.1)
    scheduler = engine.warmup_cosine(optimizer, steps_per_epoch=10, epochs=3)
    rates = []
    for _ in range(30):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(0.02) and rates[4] == pytest.approx(0.1)  # 5 warm-up steps
    assert max(rates) == pytest.approx(0.1)
    assert all(a >= b for a, b in itertools.pairwise(rates[4:]))  # then only down
    assert rates[-1] < 0.001 and optimizer.param_groups[0]["lr"] == pytest.approx(0.0)
