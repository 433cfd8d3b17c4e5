"""Emulator process entry point: apply the gap fixes, then run moto's threaded server.

    python -m dogops.local_aws.moto_patches.server --host 127.0.0.1 --port 4566

`dogops.local_aws.emulator` starts this detached; run it in the foreground to watch requests.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from typing import Any

from dogops.local_aws.moto_patches import apply_all, endpoint_registry

HEALTH_ROUTE = "{0}/moto-api/dogops/health"
HEALTH_SERVICE = "dogops-emulator"


def add_health_route(applied: list[str]) -> None:
    """`GET /moto-api/dogops/health`: tells our emulator apart from anything else on the port."""
    from moto.moto_api._internal import urls as moto_api_urls

    def health(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
        body = {
            "service": HEALTH_SERVICE,
            "pid": os.getpid(),
            "state_dir": str(endpoint_registry.default_state_dir().resolve()),
            "patches": applied,
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    moto_api_urls.url_paths[HEALTH_ROUTE] = health


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    applied = apply_all()
    add_health_route(applied)
    logging.getLogger("dogops.local_aws.emulator").info("moto patches applied: %s", ", ".join(applied))

    from moto.server import main as moto_main

    moto_main(["--host", args.host, "--port", str(args.port)])


if __name__ == "__main__":
    main()
