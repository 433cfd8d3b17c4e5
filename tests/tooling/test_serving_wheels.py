"""dogops.serving_wheels: the locked wheels, the offline escape hatch and its errors."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dogops import serving_wheels
from dogops.serving_wheels import IMAGE_TARGET, ServingWheelsError, Target


@pytest.fixture(scope="module")
def image_wheels() -> Path:
    """The image's locked wheels (build/serving-wheels: downloaded once, then reused offline)."""
    return serving_wheels.download(IMAGE_TARGET)


@pytest.fixture
def offline(monkeypatch):
    """No pip configuration from this machine (mirrors, find-links) and no reachable index."""
    for name in [n for n in os.environ if n.startswith("PIP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")


def test_the_lock_pins_the_whole_closure_with_hashes():
    hashes = serving_wheels.locked_hashes()
    assert set(hashes) == {"onnxruntime", "flatbuffers", "numpy", "packaging", "protobuf"}
    assert all(hashes.values())  # every project has at least one sha256
    assert "onnxruntime==1.31.1" in serving_wheels.REQUIREMENTS.read_text().splitlines()


def test_complete_means_exactly_the_locked_wheels_for_the_target(image_wheels, tmp_path):
    copy = Path(shutil.copytree(image_wheels, tmp_path / "w"))
    assert serving_wheels.complete(copy, IMAGE_TARGET)
    assert not serving_wheels.complete(copy, Target("3.11"))  # cp312 files
    (copy / "notes.txt").write_text("stray")
    assert not serving_wheels.complete(copy, IMAGE_TARGET)
    (copy / "notes.txt").unlink()
    (wheel,) = copy.glob("flatbuffers-*.whl")
    wheel.write_bytes(wheel.read_bytes() + b"\0")  # tampered: hash no longer locked
    assert not serving_wheels.complete(copy, IMAGE_TARGET)
    wheel.unlink()
    assert not serving_wheels.complete(copy, IMAGE_TARGET)


def test_air_gapped_wheels_dir_is_used_with_no_index(image_wheels, tmp_path, offline,
                                                     monkeypatch):
    monkeypatch.setenv(serving_wheels.WHEELS_DIR_VARIABLE, str(image_wheels))
    got = serving_wheels.download(IMAGE_TARGET, cache_root=tmp_path / "cache")
    assert serving_wheels.complete(got, IMAGE_TARGET)
    staged = serving_wheels.stage(IMAGE_TARGET, dest=tmp_path / "src" / "wheels",
                                  cache_root=tmp_path / "cache")
    assert sorted(p.name for p in staged.iterdir()) == sorted(p.name for p in got.iterdir())


def test_missing_wheels_and_no_index_is_a_clear_error(tmp_path, offline):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ServingWheelsError) as caught:
        serving_wheels.download(IMAGE_TARGET, cache_root=tmp_path / "cache", source_dir=empty)
    message = str(caught.value)
    assert "CPython 3.12" in message and serving_wheels.WHEELS_DIR_VARIABLE in message
    assert caught.value.exit_code == 1
    assert not (tmp_path / "cache" / IMAGE_TARGET.name).exists()  # nothing partial kept
    assert not list((tmp_path / "cache").iterdir())


def test_a_tampered_wheel_is_refused(image_wheels, tmp_path, offline):
    source = Path(shutil.copytree(image_wheels, tmp_path / "source"))
    (wheel,) = source.glob("packaging-*.whl")
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    with pytest.raises(ServingWheelsError, match="does not match its sha256"):
        serving_wheels.download(IMAGE_TARGET, cache_root=tmp_path / "cache", source_dir=source)


def test_cli_usage_error(capsys):
    assert serving_wheels.main(["--bogus"]) == 2
    assert "usage" in capsys.readouterr().err
