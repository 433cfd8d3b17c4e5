"""A real emulator process per test session, on a free port with its own state dir."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from emulator_test_helpers import free_port

from dogops.local_aws import emulator


@pytest.fixture(scope="session")
def emulator_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    port, state_dir = free_port(), tmp_path_factory.mktemp("emulator-state")
    emulator.start(port, state_dir)
    yield port, state_dir
    emulator.stop(port, state_dir)


@pytest.fixture(scope="session")
def emulator_port(emulator_state: tuple[int, Path]) -> int:
    return emulator_state[0]


@pytest.fixture(scope="session")
def emulator_dir(emulator_state: tuple[int, Path]) -> Path:
    return emulator_state[1]


@pytest.fixture
def aws(emulator_port: int, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], object]:
    """boto3 client factory bound to the emulator (test credentials, never the real ones)."""
    for key, value in emulator.client_environment(emulator_port).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)

    def client(service: str):
        return boto3.client(service, endpoint_url=emulator.endpoint_url(emulator_port))

    return client
