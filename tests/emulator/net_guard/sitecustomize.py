"""Network guard for processes under hostile-input tests (on PYTHONPATH, imported at start-up).

Keeps every byte on loopback whatever the code under test tries: names in DOGOPS_GUARD_NAMES
resolve to a pretend public address, a connection to that address goes to the loopback test
server behind it (DOGOPS_GUARD_PORT); any other DNS lookup fails without traffic, and any other
connection is refused. Every refused attempt is appended to DOGOPS_GUARD_LOG, so a test can
assert that the code under test never tried to reach anything it should have refused itself.
"""

import ipaddress
import json
import os
import socket

_LOG = os.environ.get("DOGOPS_GUARD_LOG")
if _LOG:
    _NAMES = json.loads(os.environ.get("DOGOPS_GUARD_NAMES", "{}"))  # name -> public address
    _ROUTES = {address: int(os.environ["DOGOPS_GUARD_PORT"]) for address in _NAMES.values()}
    _getaddrinfo = socket.getaddrinfo
    _connect = socket.socket.connect
    _connect_ex = socket.socket.connect_ex

    def _record(kind, detail):
        with open(_LOG, "a") as handle:
            handle.write(json.dumps({"kind": kind, "detail": str(detail)}) + "\n")

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        if name in _NAMES:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (_NAMES[name], port or 0))]
        try:  # numeric forms resolve locally, without traffic
            return _getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        except socket.gaierror:
            pass
        if name == "localhost":
            return _getaddrinfo(host, port, family, type, proto, flags)
        _record("dns", name)
        raise socket.gaierror(socket.EAI_NONAME, "name resolution refused by the test guard")

    def _route(address):
        host = address[0] if isinstance(address, tuple) else address
        if host in _ROUTES:
            return ("127.0.0.1", _ROUTES[host])
        try:
            if ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback:
                _record("loopback", host)  # allowed, but the code under test should not
                return address
        except ValueError:
            pass
        _record("connect", host)
        raise ConnectionRefusedError("connection refused by the test guard")

    def connect(self, address):
        return _connect(self, _route(address))

    def connect_ex(self, address):
        return _connect_ex(self, _route(address))

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
