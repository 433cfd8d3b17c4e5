"""{"url": ...} is downloaded by the Lambda (the model runs with network isolation) through the
endpoint's own SSRF guard (url_fetch.py), and the endpoint gets the image bytes."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import url_fetch
from lambda_helpers import URL_IMAGE, add_prediction, b64, image_bytes, parse_response

REAL_FETCH = url_fetch.fetch_url  # conftest's `lf` replaces it with a stand-in
PICTURE = image_bytes("PNG", 20)


@pytest.fixture
def server():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body, status = (PICTURE, 200) if self.path == "/dog.png" else (b"", 404)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def real_download(lf, monkeypatch):
    """The real downloader; names under .test resolve as the table says, and only the test
    server's 127.0.0.1 passes the address guard besides real public addresses."""
    table = {"images.example.test": ["127.0.0.1"], "sneaky.example.test": ["10.0.0.7"]}
    monkeypatch.setattr(lf.url_fetch, "fetch_url", REAL_FETCH)
    monkeypatch.setattr(url_fetch, "resolve_host", lambda host, port: table[host])
    real_guard = url_fetch.is_public_address
    monkeypatch.setattr(url_fetch, "is_public_address",
                        lambda address: address == "127.0.0.1" or real_guard(address))
    return lf


def test_the_url_is_downloaded_here_and_sent_as_the_image(real_download, stubber, server):
    add_prediction(stubber, expected_body={"image": b64(PICTURE), "top_k": 3})
    event = {"url": f"http://images.example.test:{server}/dog.png"}
    status, body = parse_response(real_download.lambda_handler(event, None))
    assert status == 200 and body["predictions"][0]["label"] == "Carolina dog"
    assert PICTURE != URL_IMAGE  # the stand-in was not used


def test_a_name_resolving_to_a_private_address_is_refused_before_any_call(
        real_download, stubber, server):
    event = {"url": f"http://sneaky.example.test:{server}/dog.png"}
    status, body = parse_response(real_download.lambda_handler(event, None))
    assert status == 400 and "forbidden" in body["error"]  # and no endpoint call (stubber)


def test_a_missing_image_is_502(real_download, stubber, server):
    event = {"url": f"http://images.example.test:{server}/nothing.png"}
    status, body = parse_response(real_download.lambda_handler(event, None))
    assert status == 502 and "HTTP 404" in body["error"]
