"""The Lambda zip is reproducible byte for byte and holds only the handler and its downloader."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from dogops.lambda_package import (
    LambdaPackageError,
    base64_sha256,
    build_lambda_zip,
    is_stale,
    main,
    zip_bytes,
)

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "lambda_function"


@pytest.fixture
def source(tmp_path) -> Path:
    """A copy of the real sources, plus the clutter a working tree accumulates."""
    copy = tmp_path / "src"
    shutil.copytree(SOURCE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "lambda_function.cpython-311.pyc").write_bytes(b"\0compiled")
    (copy / ".pytest_cache").mkdir()
    (copy / ".pytest_cache" / "x.py").write_text("junk")
    (copy / "notes.txt").write_text("not code")
    (copy / ".hidden.py").write_text("x = 1")
    return copy


def test_same_sources_give_byte_identical_zips(source, tmp_path):
    first = build_lambda_zip(source, tmp_path / "a" / "lambda.zip")
    # touch every file and change permissions: neither may show up in the zip
    later = time.time() + 3600
    for path in source.rglob("*"):
        os.utime(path, (later, later))
    (source / "lambda_function.py").chmod(0o755)
    second = build_lambda_zip(source, tmp_path / "b" / "lambda.zip")
    assert first.read_bytes() == second.read_bytes()
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(
        second.read_bytes()).digest()
    assert base64_sha256(first) == base64_sha256(second)


def test_entries_are_sorted_fixed_and_minimal(source, tmp_path):
    (source / "helpers").mkdir()
    (source / "helpers" / "b.py").write_text("B = 2\n")
    (source / "helpers" / "a.py").write_text("A = 1\n")
    out = build_lambda_zip(source, tmp_path / "lambda.zip")
    with zipfile.ZipFile(out) as archive:
        entries = archive.infolist()
        assert [e.filename for e in entries] == ["helpers/a.py", "helpers/b.py",
                                                 "lambda_function.py", "url_fetch.py"]
        for entry in entries:
            assert entry.date_time == (1980, 1, 1, 0, 0, 0)
            assert stat.S_IMODE(entry.external_attr >> 16) == 0o644
            assert entry.create_system == 3
        assert archive.read("lambda_function.py") == (source / "lambda_function.py").read_bytes()
        assert archive.testzip() is None


def test_changing_a_source_changes_the_hash(source, tmp_path):
    out = tmp_path / "lambda.zip"
    before = base64_sha256(build_lambda_zip(source, out))
    assert not is_stale(source, out)
    handler = source / "lambda_function.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    assert is_stale(source, out)
    after = base64_sha256(build_lambda_zip(source, out))
    assert before != after
    assert not is_stale(source, out)


def test_unchanged_zip_is_not_rewritten(source, tmp_path):
    out = build_lambda_zip(source, tmp_path / "lambda.zip")
    os.utime(out, (1_000_000, 1_000_000))
    build_lambda_zip(source, out)
    assert out.stat().st_mtime == 1_000_000


def test_missing_zip_is_stale(source, tmp_path):
    assert is_stale(source, tmp_path / "absent.zip")


def test_base64_sha256_matches_terraform_filebase64sha256(tmp_path):
    # value computed by `terraform console`: filebase64sha256 of a file holding "hello\n"
    path = tmp_path / "hello.txt"
    path.write_bytes(b"hello\n")
    assert base64_sha256(path) == "WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM="


def test_the_real_handler_zip_is_small_and_importable(tmp_path):
    data = zip_bytes(SOURCE)
    assert len(data) <= 50 * 1024
    out = tmp_path / "lambda.zip"
    out.write_bytes(data)
    # what the Lambda runtime does: import the handler from the unpacked zip
    unpacked = tmp_path / "task"
    with zipfile.ZipFile(out) as archive:
        # url_fetch.py: the endpoint's SSRF-guarded downloader (a symlink here), stored as a file
        assert archive.namelist() == ["lambda_function.py", "url_fetch.py"]
        archive.extractall(unpacked)
    probe = "import lambda_function; print(callable(lambda_function.lambda_handler))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=unpacked, env={"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "True"


def test_bad_source_directories_are_clear_errors(tmp_path):
    with pytest.raises(LambdaPackageError, match="not found"):
        zip_bytes(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LambdaPackageError, match="no lambda_function.py"):
        zip_bytes(tmp_path / "empty")


def test_cli_builds_and_reports(source, tmp_path, capsys):
    out = tmp_path / "cli" / "lambda.zip"
    assert main([str(source), str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and f"sha256={base64_sha256(out)}" in printed
    assert main([str(tmp_path / "nope"), str(out)]) == 1
    assert "not found" in capsys.readouterr().err
