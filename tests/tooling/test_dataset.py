"""Dataset fetch/verify/unpack/sync with data made here, served by a local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading
import zipfile
from pathlib import Path

import pytest

from dogops import dataset
from dogops.errors import UserError

CLASSES = ("001.Affenpinscher", "046.Carolina_dog")


def make_imagefolder(root: Path, images_per_class: int = 2) -> Path:
    for split in dataset.SPLITS:
        for name in CLASSES:
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(images_per_class):
                (folder / f"{index}.jpg").write_bytes(f"{split}/{name}/{index}".encode() * 50)
    return root


def zip_of(root: Path, prefix: str = "dogImages/") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                bundle.write(path, prefix + path.relative_to(root).as_posix())
    return buffer.getvalue()


class ArchiveServer:
    """Serves `body` at /dogImages.zip with S3-style headers (ETag = MD5 unless told otherwise)."""

    def __init__(self, body: bytes, etag: str | None = None):
        self.body = body
        self.etag = etag or hashlib.md5(body).hexdigest()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/dogImages.zip":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(outer.body)))
                self.send_header("ETag", f'"{outer.etag}"')
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/dogImages.zip"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def served_archive(tmp_path):
    body = zip_of(make_imagefolder(tmp_path / "source"))
    server = ArchiveServer(body)
    yield server
    server.close()


def test_download_verifies_and_unpacks(served_archive, tmp_path):
    expected_sha = hashlib.sha256(served_archive.body).hexdigest()
    root = dataset.prepare(served_archive.url, tmp_path / "work", sha256=expected_sha)
    assert root == tmp_path / "work" / "datasets" / "dogImages"
    assert sorted(p.name for p in (root / "train").iterdir()) == list(CLASSES)
    assert not list((tmp_path / "work" / "downloads").glob("*.part"))


def test_sha256_mismatch_is_an_error_and_leaves_nothing(served_archive, tmp_path):
    with pytest.raises(UserError, match="checksum mismatch.*sha256"):
        dataset.prepare(served_archive.url, tmp_path / "work", sha256="0" * 64)
    assert not list((tmp_path / "work").rglob("*.zip*"))
    assert not (tmp_path / "work" / "datasets").exists()


def test_server_md5_etag_mismatch_is_detected(tmp_path):
    body = zip_of(make_imagefolder(tmp_path / "source"))
    server = ArchiveServer(body, etag="0" * 32)  # what a corrupted transfer looks like
    try:
        with pytest.raises(UserError, match="MD5 .* does not match the server"):
            dataset.prepare(server.url, tmp_path / "work")
    finally:
        server.close()
    assert not list((tmp_path / "work").rglob("*.zip*"))


def test_unreachable_url_is_a_clear_error(tmp_path):
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(UserError, match="could not download"):
        dataset.prepare(f"http://127.0.0.1:{port}/dogImages.zip", tmp_path / "work")


def test_http_error_status_is_a_clear_error(served_archive, tmp_path):
    with pytest.raises(UserError, match="could not download.*404"):
        dataset.prepare(served_archive.url.replace("dogImages", "missing"), tmp_path / "work")


def test_zip_with_path_traversal_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../escape.txt", "x")
    with pytest.raises(UserError, match="unsafe path"):
        dataset.prepare(str(archive), tmp_path / "work")
    assert not (tmp_path / "escape.txt").exists()


def test_folder_without_splits_is_rejected(tmp_path):
    (tmp_path / "flat").mkdir()
    with pytest.raises(UserError, match="not an ImageFolder dataset"):
        dataset.prepare(str(tmp_path / "flat"), tmp_path / "work")
    with pytest.raises(UserError, match="neither an http"):
        dataset.prepare("ftp://example.com/x.zip", tmp_path / "work")


def test_sync_uploads_once_then_skips_and_prunes(s3_bucket, tmp_path):
    s3, bucket = s3_bucket
    root = make_imagefolder(tmp_path / "dogImages")
    (root / "train" / ".DS_Store").write_text("finder junk")
    s3.put_object(Bucket=bucket, Key="data/train/999.Old/stale.jpg", Body=b"old")

    first = dataset.sync(s3, root, bucket)
    assert (first.uploaded, first.skipped, first.deleted) == (12, 0, 1)
    keys = sorted(dataset.remote_listing(s3, bucket))
    assert keys[0] == "data/test/001.Affenpinscher/0.jpg" and len(keys) == 12
    assert not any(".DS_Store" in key for key in keys)

    second = dataset.sync(s3, root, bucket)
    assert (second.uploaded, second.skipped, second.deleted) == (0, 12, 0)
    assert second.digest == first.digest

    (root / "valid" / CLASSES[0] / "0.jpg").write_bytes(b"changed")
    third = dataset.sync(s3, root, bucket)
    assert (third.uploaded, third.skipped) == (1, 11) and third.digest != first.digest
    body = s3.get_object(Bucket=bucket, Key=f"data/valid/{CLASSES[0]}/0.jpg")["Body"].read()
    assert body == b"changed"
