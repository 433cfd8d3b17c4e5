"""Starting and stopping the emulator process: idempotence, pid file, port conflicts."""

from __future__ import annotations

import json
import socket

import boto3
import pytest
import requests
from emulator_test_helpers import free_port

from dogops.errors import UserError
from dogops.local_aws import emulator


def test_start_stop_are_idempotent(tmp_path, capsys):
    port = free_port()
    first = emulator.start(port, tmp_path)
    try:
        assert first.running and first.pid
        assert json.loads((tmp_path / "emulator.pid").read_text())["pid"] == first.pid
        assert emulator.start(port, tmp_path).pid == first.pid  # reused, not a second server
        with pytest.raises(UserError, match=f"already runs on port {port}"):
            emulator.start(free_port(), tmp_path)  # one emulator per state dir
        assert emulator.main(["status", "--port", str(port), "--state-dir", str(tmp_path)]) == 0
        assert json.loads(capsys.readouterr().out)["running"] is True
        # It is a real moto with our patches: S3 answers, the health route lists the patches.
        health = emulator.health(port)
        assert "lambda_invoke" in health["patches"]
        # IAM is enforced: an anonymous request is refused as on AWS, the operator's key works.
        listing = requests.get(f"{emulator.endpoint_url(port)}/", timeout=5)
        assert listing.status_code == 403 and b"AccessDenied" in listing.content
        creds = emulator.operator_credentials(emulator.endpoint_url(port))
        s3 = boto3.client("s3", endpoint_url=emulator.endpoint_url(port), region_name="us-east-1",
                          aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"])
        assert s3.list_buckets()["Buckets"] == []
        assert (tmp_path / "operator-credentials.json").stat().st_mode & 0o077 == 0
    finally:
        assert emulator.stop(port, tmp_path) is True
    assert emulator.stop(port, tmp_path) is False
    assert not (tmp_path / "emulator.pid").exists()
    assert emulator.status(port, tmp_path).running is False
    assert emulator.main(["status", "--port", str(port), "--state-dir", str(tmp_path)]) == 1


def test_port_taken_by_another_program_is_a_clear_error(tmp_path, capsys):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(UserError) as err:
            emulator.start(port, tmp_path)
        assert err.value.exit_code == 3
        assert f"port {port}" in str(err.value) and "already in use" in str(err.value)
        assert not (tmp_path / "emulator.pid").exists()
        code = emulator.main(["start", "--port", str(port), "--state-dir", str(tmp_path)])
        assert code == 3
        assert "already in use" in capsys.readouterr().err


def test_a_second_state_dir_cannot_share_a_running_emulator(emulator_port, tmp_path):
    with pytest.raises(UserError, match="another dogops emulator"):
        emulator.start(emulator_port, tmp_path)


def test_stale_pid_file_is_ignored(tmp_path):
    port = free_port()
    (tmp_path / "emulator.pid").write_text(json.dumps({"pid": 999999, "port": port}))
    assert emulator.status(port, tmp_path).running is False
    assert emulator.stop(port, tmp_path) is False
