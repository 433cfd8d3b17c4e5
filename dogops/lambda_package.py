"""Deterministic Lambda zip: same sources -> byte-identical zip -> `terraform plan` stays empty.

Terraform reads the zip through `filename` + `source_code_hash = filebase64sha256(...)`, so any
byte that changes without a source change (timestamps, file order, permissions, compiler output)
would redeploy the function. Here every entry is sorted, dated 1980-01-01, mode 0644, and stored
uncompressed: deflate output can differ between zlib builds (zlib vs zlib-ng), storing cannot,
and the handler is a few KB either way.

    python -m dogops.lambda_package [SOURCE_DIR] [OUT]   # builds, prints path, size, hash
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import sys
import tempfile
import zipfile
from pathlib import Path

DEFAULT_SOURCE_DIR = Path("lambda_function")
DEFAULT_OUT = Path("build/lambda_function.zip")
HANDLER_FILE = "lambda_function.py"
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest timestamp a zip entry can hold
FILE_MODE = 0o100644  # regular file, rw-r--r--
# Only what runs in the function; boto3 and botocore come with the Lambda Python runtime.
# lambda_function/url_fetch.py is a symlink to training/classifier/url_fetch.py (one SSRF guard
# for both): its content is stored, as a regular file entry.
INCLUDED_SUFFIXES = (".py",)
EXCLUDED_DIRS = {"__pycache__", "tests", ".pytest_cache", ".ruff_cache"}


class LambdaPackageError(ValueError):
    """The source directory cannot be packaged (missing, or has no handler)."""


def source_files(source_dir: Path = DEFAULT_SOURCE_DIR) -> list[tuple[str, Path]]:
    """(archive name, path) for every file the function needs, sorted by archive name."""
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise LambdaPackageError(f"Lambda source directory not found: {source_dir}")
    files = []
    for path in source_dir.rglob("*"):
        relative = path.relative_to(source_dir)
        if any(part in EXCLUDED_DIRS or part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.suffix in INCLUDED_SUFFIXES:
            files.append((relative.as_posix(), path))
    if HANDLER_FILE not in {name for name, _ in files}:
        raise LambdaPackageError(f"{source_dir} has no {HANDLER_FILE} (the handler module)")
    return sorted(files)


def zip_bytes(source_dir: Path = DEFAULT_SOURCE_DIR) -> bytes:
    """The zip's exact bytes, built in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, path in source_files(source_dir):
            entry = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            entry.create_system = 3  # Unix, so external_attr carries the mode on every host
            entry.external_attr = FILE_MODE << 16
            entry.compress_type = zipfile.ZIP_STORED
            archive.writestr(entry, path.read_bytes())
    return buffer.getvalue()


def build_lambda_zip(source_dir: Path = DEFAULT_SOURCE_DIR, out: Path = DEFAULT_OUT) -> Path:
    """Write the zip to `out` and return it; an unchanged zip is not rewritten (mtime kept)."""
    out = Path(out)
    data = zip_bytes(source_dir)
    if out.is_file() and out.read_bytes() == data:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    # write-then-rename: a crash never leaves a half-written zip for Terraform to hash
    handle, temporary = tempfile.mkstemp(prefix=out.name, suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return out


def is_stale(source_dir: Path = DEFAULT_SOURCE_DIR, out: Path = DEFAULT_OUT) -> bool:
    """True when `out` is missing or differs from what the sources build now.

    Compares content, not mtimes, so a fresh clone or a touched file is not "stale".
    """
    out = Path(out)
    return not out.is_file() or out.read_bytes() != zip_bytes(source_dir)


def base64_sha256(path: Path) -> str:
    """Same value as Terraform's filebase64sha256() and Lambda's CodeSha256."""
    return base64.b64encode(hashlib.sha256(Path(path).read_bytes()).digest()).decode("ascii")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 2:
        print("usage: python -m dogops.lambda_package [SOURCE_DIR] [OUT]", file=sys.stderr)
        return 2
    source_dir = Path(args[0]) if args else DEFAULT_SOURCE_DIR
    out = Path(args[1]) if len(args) > 1 else DEFAULT_OUT
    try:
        path = build_lambda_zip(source_dir, out)
    except (LambdaPackageError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{path} {path.stat().st_size} bytes sha256={base64_sha256(path)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
