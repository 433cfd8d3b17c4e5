"""Fixtures for the Lambda handler tests: the handler module wired to a stubbed client."""

from __future__ import annotations

import importlib

import pytest
from botocore.stub import Stubber
from lambda_helpers import ENDPOINT_NAME, URL_IMAGE, fake_aws_env


@pytest.fixture(scope="session")
def handler_module():
    with pytest.MonkeyPatch.context() as patch:
        fake_aws_env(patch)
        return importlib.import_module("lambda_function")


@pytest.fixture(scope="session")
def stub_client(handler_module):
    """A client built by the module's own factory (same timeouts/retries) with fake credentials."""
    with pytest.MonkeyPatch.context() as patch:
        fake_aws_env(patch)
        return handler_module.create_runtime_client()


@pytest.fixture
def lf(handler_module, stub_client, monkeypatch):
    """The handler module wired to the stub client, with a clean configuration."""
    monkeypatch.setattr(handler_module, "RUNTIME", stub_client)
    monkeypatch.setenv("ENDPOINT_NAME", ENDPOINT_NAME)
    monkeypatch.delenv("TOP_K", raising=False)
    monkeypatch.delenv("MAX_TOP_K", raising=False)
    # No test reaches the internet: urls "download" URL_IMAGE (test_lambda_url_download.py
    # runs the real downloader against a local server).
    monkeypatch.setattr(handler_module.url_fetch, "fetch_url", lambda url, limits: URL_IMAGE)
    return handler_module


@pytest.fixture
def stubber(lf, stub_client):
    with Stubber(stub_client) as stub:
        yield stub
        stub.assert_no_pending_responses()

