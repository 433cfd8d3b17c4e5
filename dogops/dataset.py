"""Get an ImageFolder dataset (URL, zip or directory) and sync it to the bucket's data prefix.

The default is the Udacity dogImages archive. Downloads are verified (length, the server's MD5
ETag when it has one, and `--sha256` when given) before anything is unpacked; uploads skip
objects whose MD5 already matches, so a second `invoke data` sends nothing.
"""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import requests
from tqdm import tqdm

from dogops import config
from dogops.errors import UserError

UDACITY_DOG_IMAGES_URL = "https://s3-us-west-1.amazonaws.com/udacity-aind/dog-project/dogImages.zip"
SPLITS = ("train", "valid", "test")
CHUNK = 1 << 20
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 60
TRANSFER_THREADS = 8


@dataclass
class SyncResult:
    uploaded: int
    skipped: int
    deleted: int
    digest: str


# -- locating and unpacking ---------------------------------------------------------------------
def is_imagefolder_root(path: Path) -> bool:
    return all((path / split).is_dir() for split in SPLITS)


def find_imagefolder_root(path: Path) -> Path:
    """`path` itself or the one folder below it (e.g. `dogImages/`) that holds train/valid/test."""
    path = Path(path)
    if is_imagefolder_root(path):
        return path
    candidates = [child for child in sorted(path.iterdir()) if child.is_dir()
                  and is_imagefolder_root(child)] if path.is_dir() else []
    if len(candidates) != 1:
        raise UserError(f"{path} is not an ImageFolder dataset: expected folders "
                        f"{'/, '.join(SPLITS)}/ with one folder per class (e.g. 001.Affenpinscher)")
    return candidates[0]


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack a zip into `dest` (all-or-nothing) and return the ImageFolder root inside it."""
    if dest.exists():
        return find_imagefolder_root(dest)
    try:
        with zipfile.ZipFile(archive) as bundle:
            for name in bundle.namelist():
                parts = PurePosixPath(name).parts
                if name.startswith("/") or ".." in parts:
                    raise UserError(f"{archive} holds an unsafe path {name!r}; refusing to unpack")
            dest.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}-") as tmp:
                staging = Path(tmp) / "unpacked"
                bundle.extractall(staging)
                find_imagefolder_root(staging).replace(dest)
    except zipfile.BadZipFile as err:
        raise UserError(f"{archive} is not a valid zip archive ({err})") from None
    return find_imagefolder_root(dest)


# -- downloading --------------------------------------------------------------------------------
def _plain_md5_etag(headers: requests.structures.CaseInsensitiveDict) -> str | None:
    """S3's ETag is the MD5 of the body for single-part uploads (no '-' in it)."""
    etag = headers.get("ETag", "").strip('"')
    return etag if len(etag) == 32 and "-" not in etag else None


def download(url: str, dest: Path, sha256: str | None = None) -> Path:
    """Stream `url` to `dest` with a progress bar; verify it; never leave a partial file."""
    if dest.exists() and (sha256 is None or _file_sha256(dest) == sha256.lower()):
        print(f"using the verified download already at {dest}")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".part")
    sha, md5, received = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    try:
        with requests.get(url, stream=True, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S)) as resp:
            resp.raise_for_status()
            expected_length = int(resp.headers.get("Content-Length", 0)) or None
            expected_md5 = _plain_md5_etag(resp.headers)
            with open(partial, "wb") as out, tqdm(total=expected_length, unit="B",
                                                  unit_scale=True, desc=dest.name,
                                                  disable=None) as bar:
                for chunk in resp.iter_content(CHUNK):
                    out.write(chunk)
                    sha.update(chunk)
                    md5.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        problems = []
        if expected_length is not None and received != expected_length:
            problems.append(f"got {received} bytes, expected {expected_length}")
        if expected_md5 is not None and md5.hexdigest() != expected_md5:
            problems.append(f"MD5 {md5.hexdigest()} does not match the server's {expected_md5}")
        if sha256 is not None and sha.hexdigest() != sha256.lower():
            problems.append(f"sha256 {sha.hexdigest()} does not match the expected {sha256}")
        if problems:
            raise UserError(f"checksum mismatch for {url}: " + "; ".join(problems)
                            + " (the partial download was removed)")
        partial.replace(dest)
    except requests.RequestException as err:
        raise UserError(f"could not download {url}: {type(err).__name__}: {err}") from None
    finally:
        partial.unlink(missing_ok=True)
    print(f"downloaded {received} bytes, sha256 {sha.hexdigest()}")
    return dest


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def prepare(source: str, work_dir: Path, sha256: str | None = None) -> Path:
    """A local ImageFolder root for `source`: a directory, a zip file or an http(s) URL."""
    scheme = urlparse(source).scheme
    if scheme in ("http", "https"):
        name = Path(urlparse(source).path).name or "dataset.zip"
        archive = download(source, work_dir / "downloads" / name, sha256)
        return unpack(archive, work_dir / "datasets" / Path(name).stem)
    path = Path(source).expanduser()
    if path.is_dir():
        return find_imagefolder_root(path)
    if path.is_file():
        if sha256 is not None and _file_sha256(path) != sha256.lower():
            raise UserError(f"checksum mismatch for {path}: sha256 differs from {sha256}")
        return unpack(path, work_dir / "datasets" / path.stem)
    raise UserError(f"dataset source {source!r} is neither an http(s) URL, a zip file nor a folder")


# -- uploading ----------------------------------------------------------------------------------
def local_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(relative posix key, path) for every data file under the splits, hidden files skipped."""
    for split in SPLITS:
        for path in sorted((root / split).rglob("*")):
            relative = path.relative_to(root)
            if path.is_file() and not any(part.startswith(".") for part in relative.parts):
                yield relative.as_posix(), path


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def remote_listing(s3, bucket: str, prefix: str = config.DATA_PREFIX) -> dict[str, str]:
    """{key: etag} under the prefix."""
    listing: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            listing[item["Key"]] = item["ETag"].strip('"')
    return listing


def sync(s3, root: Path, bucket: str, prefix: str = config.DATA_PREFIX) -> SyncResult:
    """Make s3://bucket/prefix equal to the local dataset; unchanged objects are not re-sent."""
    from dogops.state import data_digest

    existing = remote_listing(s3, bucket, prefix)
    files = list(local_files(root))
    if not files:
        raise UserError(f"{root} has no files under {', '.join(SPLITS)}")
    wanted = {prefix + relative: _md5(path) for relative, path in files}
    to_send = [(prefix + relative, path) for relative, path in files
               if existing.get(prefix + relative) != wanted[prefix + relative]]

    def send(item: tuple[str, Path]) -> int:
        key, path = item
        with open(path, "rb") as body:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        return path.stat().st_size

    # Many small images: a few requests in flight hide the per-request latency.
    with tqdm(total=sum(p.stat().st_size for _, p in to_send), unit="B", unit_scale=True,
              desc=f"s3://{bucket}/{prefix}",
              # a bar on a terminal; logs (non-TTY) get the summary line only
              disable=True if not to_send else None) as bar, \
            ThreadPoolExecutor(max_workers=TRANSFER_THREADS) as pool:
        for size in pool.map(send, to_send):
            bar.update(size)
    uploaded, skipped = len(to_send), len(files) - len(to_send)
    # Objects of an older dataset would silently join training: remove them.
    stale = sorted(set(existing) - set(wanted))
    for start in range(0, len(stale), 1000):
        s3.delete_objects(Bucket=bucket, Delete={
            "Objects": [{"Key": key} for key in stale[start:start + 1000]], "Quiet": True})
    return SyncResult(uploaded, skipped, len(stale), data_digest(wanted.items()))

