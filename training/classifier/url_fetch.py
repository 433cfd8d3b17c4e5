"""Image download for ``{"url": ...}`` requests, guarded against server-side request forgery.

Only http(s); every address the host resolves to must be public (no private, loopback,
link-local/metadata, CGNAT, multicast or reserved ranges); the connection is pinned to the checked
address (no DNS rebinding); redirects are re-checked; size and total time are bounded.

Standard library only and no package imports: the Lambda front door ships this same file
(``lambda_function/url_fetch.py`` is a symlink to it), since an endpoint under network isolation
cannot download anything and the Lambda fetches ``{"url": ...}`` images for it.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

log = logging.getLogger(__name__)


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass
class Limits:
    """Request guards; overridable through the container environment."""

    max_body_bytes: int = int(_env_number("MAX_REQUEST_BYTES", 8 * 1024 * 1024))
    max_image_bytes: int = int(_env_number("MAX_IMAGE_BYTES", 6 * 1024 * 1024))
    max_pixels: int = int(_env_number("MAX_IMAGE_PIXELS", 40_000_000))
    download_timeout_s: float = _env_number("DOWNLOAD_TIMEOUT_S", 10.0)  # whole download
    connect_timeout_s: float = _env_number("CONNECT_TIMEOUT_S", 3.0)  # also per socket read
    max_redirects: int = 3


LIMITS = Limits()


class FetchError(Exception):
    """A URL refused (400, 413) or not fetched (502, 504): ``status_code`` is the HTTP status
    to answer with, ``error`` a short message safe to show the caller."""

    def __init__(self, status_code: int, error: str):
        super().__init__(error)
        self.status_code = status_code
        self.error = error


def resolve_host(host: str, port: int) -> list[str]:
    """All addresses a host name resolves to (replaceable in tests)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


def is_public_address(address: str) -> bool:
    """Only globally routable unicast addresses: no private, loopback, link-local (incl. the
    169.254.169.254 metadata service), CGNAT, multicast or reserved ranges, in any notation."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _checked_target(url: str) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, vetted address, path); FetchError 400 if forbidden, 502 if the
    host does not resolve."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchError(400, "malformed url") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(400, "url must use http or https")
    if not parts.hostname or parts.username or parts.password:
        raise FetchError(400, "url needs a host and no credentials")
    port = port or (443 if scheme == "https" else 80)
    try:
        addresses = resolve_host(parts.hostname, port)
    except (OSError, UnicodeError):
        raise FetchError(502, "url host could not be resolved") from None
    if not addresses:
        raise FetchError(502, "url host could not be resolved")
    # Every address must be public: a name with one private answer could be steered to it.
    if not all(is_public_address(address) for address in addresses):
        raise FetchError(400, "url resolves to a forbidden (non-public) address")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, parts.hostname, port, addresses[0], path


class _PinnedHTTPConnection:
    """HTTP(S) connection to an already vetted address, so a second DNS answer (rebinding) can
    never redirect the request; TLS still verifies the certificate for the host name."""

    def __init__(self, scheme, host, port, address, timeout):
        self.scheme, self.host, self.address, self.timeout = scheme, host, address, timeout
        self.connection = (
            http.client.HTTPSConnection(host, port, timeout=timeout)
            if scheme == "https"
            else http.client.HTTPConnection(host, port, timeout=timeout)
        )
        self.connection.connect = self._connect  # type: ignore[method-assign]
        self.expired = False
        self.sock = None  # ours: http.client drops its reference once the response owns it

    def _connect(self):
        sock = socket.create_connection((self.address, self.connection.port), self.timeout)
        if self.scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        self.connection.sock = self.sock = sock

    def expire(self):
        """Deadline watchdog: unblocks any read, however slowly the server drips bytes."""
        self.expired = True
        sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def fetch_url(url: str, limits: Limits = LIMITS) -> bytes:
    """Download an image: public addresses only, bounded size, bounded total time."""
    deadline = time.monotonic() + limits.download_timeout_s
    for _ in range(limits.max_redirects + 1):
        scheme, host, port, address, path = _checked_target(url)
        pinned = _PinnedHTTPConnection(scheme, host, port, address, limits.connect_timeout_s)
        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), pinned.expire)
        watchdog.daemon = True
        watchdog.start()
        conn = pinned.connection
        try:
            conn.request(
                "GET",
                path,
                headers={
                    "Host": _host_header(host, port, scheme),
                    "User-Agent": "dog-breed-endpoint/1",
                    "Accept": "image/*",
                },
            )
            response = conn.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise FetchError(502, "url redirect without a location")
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise FetchError(502, f"url download failed with HTTP {response.status}")
            body = _read_bounded(response, limits)
            if pinned.expired:
                raise FetchError(504, "url download timed out")
            return body
        except FetchError:
            raise
        except (OSError, ValueError, http.client.HTTPException) as error:
            if pinned.expired or isinstance(error, TimeoutError):
                raise FetchError(504, "url download timed out") from None
            log.info("url download failed: %s", type(error).__name__)  # refused, reset, TLS
            raise FetchError(502, "url download failed") from None
        finally:
            watchdog.cancel()
            conn.close()
    raise FetchError(502, "url redirected too many times")


def _host_header(host: str, port: int, scheme: str) -> str:
    default = 443 if scheme == "https" else 80
    return host if port == default else f"{host}:{port}"


def _read_bounded(response, limits: Limits) -> bytes:
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > limits.max_image_bytes:
        raise FetchError(413, "image at url is too large")
    chunks, size = [], 0
    while True:
        chunk = response.read1(64 * 1024) if hasattr(response, "read1") else response.read(65536)
        if not chunk:
            break
        size += len(chunk)
        if size > limits.max_image_bytes:
            raise FetchError(413, "image at url is too large")
        chunks.append(chunk)
    return b"".join(chunks)
