"""The int8 accuracy gate, the CPU rule for serving int8 and batched prediction."""

from __future__ import annotations

import io
import json
import logging
import shutil

import inference
import numpy as np
import pytest
import torch
from classifier import artifacts, cpu
from inference import ImageRequest, input_fn, model_fn, predict_batch, predict_fn
from PIL import Image
from skimage import data as skdata

# ------------------------------------------------------------------------------ the gate


@pytest.mark.parametrize(
    ("fp32", "int8", "agreement", "kept"),
    [
        (0.90, 0.90, 1.0, True),
        (0.900, 0.895, 0.99, True),  # both limits exactly: still kept
        (0.900, 0.894, 0.995, False),  # 0.6 point less accurate
        (0.900, 0.906, 0.995, False),  # 0.6 point "better": another classifier, not the same
        (0.900, 0.900, 0.9899, False),  # as accurate, but right on other images
        (0.5, 0.5, 0.0, False),
    ],
)
def test_int8_gate_keeps_by_accuracy_and_agreement(fp32, int8, agreement, kept):
    decision, reason = artifacts.int8_gate(fp32, int8, agreement)
    assert decision is kept
    assert f"{int8:.2%}" in reason or f"{agreement:.2%}" in reason


def test_int8_gate_does_not_ask_for_unanimity():
    # 836 test images, 3 near-ties flip either way: accuracy unchanged, agreement 99.6 %.
    assert artifacts.int8_gate(700 / 836, 700 / 836, 833 / 836)[0]


def test_check_items_are_spread_over_the_whole_dataset():
    dataset = [(torch.zeros(1), label) for label in range(10) for _ in range(300)]  # sorted
    items = artifacts._spread_items(dataset, 2000)
    assert len(items) == 2000 and {label for _, label in items} == set(range(10))
    assert len(artifacts._spread_items(dataset[:50], 2000)) == 50


# ------------------------------------------------------------------------------ the CPU rule


@pytest.mark.parametrize(
    ("flags", "kernels"),
    [
        ({"avx2", "avx512f", "avx512_vnni"}, "vnni"),
        ({"avx2", "avx_vnni"}, "vnni"),
        ({"avx2", "avx512f", "avx512bw"}, "avx2"),  # AVX-512 without VNNI: saturating kernels
        ({"avx2", "fma"}, "avx2"),
        ({"sse4_2"}, "none"),
        (set(), "none"),
    ],
)
def test_int8_kernel_class_from_cpu_flags(flags, kernels):
    assert cpu.int8_kernels(frozenset(flags)) == kernels


def kept_record(reduce_range=True, checked="vnni") -> dict:
    return {"file": "model.int8.onnx", "reduce_range": reduce_range,
            "checked_on": {"int8_kernels": checked}}  # fmt: skip


def test_emulated_avx2_hides_what_an_avx2_cpu_lacks(monkeypatch):
    monkeypatch.setenv(cpu.EMULATED_ISA_VARIABLE, "avx2")
    cpu.cpu_flags.cache_clear()
    try:
        flags = cpu.cpu_flags()
        info = cpu.describe()
    finally:
        monkeypatch.delenv(cpu.EMULATED_ISA_VARIABLE)
        cpu.cpu_flags.cache_clear()
    assert not {f for f in flags if f.startswith(("avx512", "avx_vnni", "amx"))}
    assert info["int8_kernels"] in ("avx2", "none") and info["emulated"]
    assert "EMULATED" in cpu.summary(info)
    assert "emulated" not in cpu.describe()  # unset: the real flags again


def test_int8_refusal_rule():
    assert inference.int8_refusal(kept_record(), "vnni") is None
    assert inference.int8_refusal(kept_record(), "avx2") is None  # 7-bit weights: same results
    assert "no AVX2" in inference.int8_refusal(kept_record(), "none")
    full_range = kept_record(reduce_range=False, checked="vnni")
    assert inference.int8_refusal(full_range, "vnni") is None
    assert "accuracy is unknown" in inference.int8_refusal(full_range, "avx2")
    assert "accuracy is unknown" in inference.int8_refusal({"file": "x.onnx"}, "vnni")  # old
    assert inference.int8_refusal({"file": None}, "vnni") is None  # nothing to refuse


def test_cpu_report_names_the_instruction_sets():
    info = cpu.describe()
    assert info["int8_kernels"] in ("vnni", "avx2", "none")
    assert set(info["flags"]) <= set(cpu._REPORTED)
    assert info["torch_capability"] == torch.backends.cpu.get_cpu_capability()
    assert info["int8_kernels"] in cpu.summary(info)


# ------------------------------------------------------------------------------ on the trained model


def test_training_recorded_the_int8_decision(trained):
    config = json.loads((trained.model_dir / "model_config.json").read_text())
    record = config["int8"]
    assert record == trained.metrics["int8"]  # the report carries the same numbers
    assert record["checked_on"]["int8_kernels"] == cpu.int8_kernels()
    assert record["reduce_range"] is True
    kept, reason = artifacts.int8_gate(
        record["fp32_accuracy"], record["int8_accuracy"], record["top1_agreement"]
    )
    assert (record["file"] is not None) == kept
    assert record["decision"] == ("kept: " if kept else "not used: ") + reason


def with_int8_record(trained, tmp_path, **changes):
    copy = tmp_path / "model"
    shutil.copytree(trained.model_dir, copy)
    config = json.loads((copy / "model_config.json").read_text())
    if not config["int8"]["file"]:  # the gate dropped it: stand one in to test the CPU rule
        size = config["image_size"]
        calibration = list(
            torch.randn(8, 3, size, size, generator=torch.Generator().manual_seed(0))
        )
        artifacts._quantize(copy / "model.onnx", copy / "model.int8.onnx", calibration, True)
    config["int8"].update(file="model.int8.onnx", **changes)
    (copy / "model_config.json").write_text(json.dumps(config))
    return copy


def test_int8_unfit_for_this_cpu_falls_back_to_float32(trained, tmp_path, caplog):
    other = "avx2" if cpu.int8_kernels() == "vnni" else "vnni"
    copy = with_int8_record(
        trained, tmp_path, reduce_range=False, checked_on={"int8_kernels": other}
    )
    with caplog.at_level(logging.WARNING, logger="inference"):
        served = model_fn(copy)
    assert (served.backend, served.precision) == ("onnxruntime", "float32")
    assert "accuracy is unknown" in served.int8_refused
    assert any("int8 model not served" in r.getMessage() for r in caplog.records)


def test_int8_is_refused_on_a_cpu_without_int8_kernels(trained, tmp_path, monkeypatch):
    copy = with_int8_record(trained, tmp_path)
    monkeypatch.setattr(cpu, "int8_kernels", lambda flags=None: "none")
    served = model_fn(copy)
    assert served.precision == "float32" and "no AVX2" in served.int8_refused


def test_int8_fit_for_this_cpu_is_served(trained, tmp_path):
    served = model_fn(with_int8_record(trained, tmp_path))
    if cpu.int8_kernels() in cpu.INT8_FAST:
        assert (served.precision, served.int8_refused) == ("int8", None)
    else:
        assert served.precision == "float32" and served.int8_refused


def jpeg(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_predict_batch_equals_predict_fn_item_by_item(trained, digits_dir):
    served = model_fn(trained.model_dir)
    digits = [p.read_bytes() for p in sorted((digits_dir / "test").glob("*/*.png"))[::45]]
    requests = [input_fn(body, "image/png") for body in digits]
    requests += [
        input_fn(jpeg(skdata.chelsea()), "image/jpeg"),  # other sizes in the same batch
        ImageRequest(input_fn(jpeg(skdata.coffee()), "image/jpeg").image, top_k=1),
        ImageRequest(requests[0].image, top_k=5, return_logits=True),
    ]
    batched = predict_batch(requests, served)
    assert len(batched) == len(requests)
    for request, got in zip(requests, batched, strict=True):
        alone = predict_fn(request, served)
        assert [p["label"] for p in got["predictions"]] == [
            p["label"] for p in alone["predictions"]
        ]
        assert [p["probability"] for p in got["predictions"]] == pytest.approx(
            [p["probability"] for p in alone["predictions"]], abs=1e-5
        )
        assert ("logits" in got) == ("logits" in alone) == request.return_logits
    assert len(batched[-2]["predictions"]) == 1 and len(batched[-1]["predictions"]) == 5


def test_predict_batch_splits_large_batches_and_takes_empty_ones(trained, monkeypatch):
    served = model_fn(trained.model_dir)
    sizes = []
    real = served.logits
    monkeypatch.setattr(served, "logits", lambda batch: sizes.append(len(batch)) or real(batch))
    monkeypatch.setattr(inference, "MAX_FORWARD_BATCH", 4)
    image = input_fn(jpeg(skdata.astronaut()), "image/jpeg").image
    assert len(predict_batch([ImageRequest(image)] * 10, served)) == 10
    assert sizes == [4, 4, 2]
    assert predict_batch([], served) == []
    with pytest.raises(TypeError, match="input_fn results"):
        predict_batch([b"raw bytes"], served)


# ------------------------------------------------------------------------------ draft decoding


def test_jpeg_draft_decoding_shrinks_but_never_below_the_side():
    big = np.asarray(Image.fromarray(skdata.astronaut()).resize((2048, 1536)))  # 4:3, 2048 px
    full = inference.decode_image(jpeg(big))
    assert tuple(full.shape) == (3, 1536, 2048)
    for side, expected in ((256, (3, 384, 512)), (37, (3, 192, 256)), (800, (3, 1536, 2048))):
        assert tuple(inference.decode_image(jpeg(big), draft_side=side).shape) == expected
    png = io.BytesIO()
    Image.fromarray(big).save(png, format="PNG")
    assert tuple(inference.decode_image(png.getvalue(), draft_side=256).shape) == (3, 1536, 2048)


def test_model_fn_sets_the_draft_side_for_its_image_size(trained, monkeypatch):
    monkeypatch.setattr(inference, "_draft_side", 0)
    monkeypatch.setenv("DOGOPS_JPEG_DRAFT", "0")
    model_fn(trained.model_dir)
    assert inference._draft_side == 0  # switched off
    monkeypatch.delenv("DOGOPS_JPEG_DRAFT")
    served = model_fn(trained.model_dir)
    assert inference._draft_side == inference.resize_size_for(served.image_size)
    image = input_fn(jpeg(skdata.astronaut()), "image/jpeg").image  # 512 px: 1/8 scale for 16 px
    assert min(image.shape[1:]) >= inference._draft_side and image.shape[1] < 512


# ------------------------------------------------------------------------------ int8 session


def _maxpool_input_producers(model_path) -> set[str]:
    import onnx

    graph = onnx.load(str(model_path)).graph
    producer = {output: node.op_type for node in graph.node for output in node.output}
    return {
        producer.get(node.input[0], "graph input")
        for node in graph.node
        if node.op_type.endswith("MaxPool")
    }


def test_int8_session_pools_in_float_with_bit_identical_outputs(trained, tmp_path):
    import onnxruntime

    path = with_int8_record(trained, tmp_path) / "model.int8.onnx"
    size = json.loads((path.parent / "model_config.json").read_text())["image_size"]
    images = {"input": np.random.default_rng(0).standard_normal((4, 3, size, size), np.float32)}
    optimized = {}
    for name, disabled in (("ours", artifacts.INT8_DISABLED_OPTIMIZERS), ("default", ())):
        options = onnxruntime.SessionOptions()
        options.optimized_model_filepath = str(tmp_path / f"{name}.optimized.onnx")
        onnxruntime.InferenceSession(
            str(path),
            options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=list(disabled),
        )
        optimized[name] = _maxpool_input_producers(options.optimized_model_filepath)
    # ONNX Runtime's default moves the quantization in front of the stem's MaxPool (uint8,
    # generic kernel); ours keeps it after, so the MaxPool takes the float convolution's output.
    assert "QuantizeLinear" in optimized["default"]
    assert optimized["ours"] and "QuantizeLinear" not in optimized["ours"]
    default = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(
        artifacts.int8_session(path).run(None, images)[0], default.run(None, images)[0]
    )


def test_served_int8_session_is_built_by_the_shared_helper(trained, tmp_path, monkeypatch):
    built = []
    real = artifacts.int8_session
    monkeypatch.setattr(artifacts, "int8_session", lambda *a: built.append(a[0]) or real(*a))
    served = model_fn(with_int8_record(trained, tmp_path))
    if served.precision == "int8":
        assert [p.name for p in built] == ["model.int8.onnx"]
    else:  # this CPU may not serve int8: then no int8 session at all
        assert built == [] and served.int8_refused


# ------------------------------------------------------------------------------ threads


def test_preprocessing_threads_is_scoped():
    before = torch.get_num_threads()
    with inference.preprocessing_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), inference.preprocessing_threads(1):
        raise RuntimeError("a failing request")
    assert torch.get_num_threads() == before
    with inference.preprocessing_threads(0):  # 0: leave torch's setting alone
        assert torch.get_num_threads() == before


def test_onnx_serving_preprocesses_on_one_torch_thread(trained, monkeypatch):
    served = model_fn(trained.model_dir)
    assert served.backend == "onnxruntime"
    seen = []
    real = inference.prepare_image
    monkeypatch.setattr(
        inference,
        "prepare_image",
        lambda *a, **k: seen.append(torch.get_num_threads()) or real(*a, **k),
    )
    before = torch.get_num_threads()
    predict_batch([input_fn(jpeg(skdata.chelsea()), "image/jpeg")] * 2, served)
    assert seen == [1, 1] and torch.get_num_threads() == before
    served.onnx_session, served.backend = None, "torch"  # PyTorch runs the forward: torch's threads
    seen.clear()
    predict_batch([input_fn(jpeg(skdata.chelsea()), "image/jpeg")], served)
    assert seen == [before]
