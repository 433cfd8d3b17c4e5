"""SSM: AWS's public parameters under /aws/service/ that moto does not ship, settable per region.

moto publishes only a few public trees (Amazon Linux and ECS AMIs, regions, services); the Deep
Learning AMI ids (`/aws/service/deeplearning/ami/...`) are missing, and `PutParameter` rightly
refuses names starting with `/aws`. This route stores such a parameter as AWS would publish
it, so the preflight's DLAMI check and `data "aws_ssm_parameter"` can be exercised:

    POST /moto-api/dogops/ssm-public-parameter
    {"Region": "us-east-1", "Name": "/aws/service/deeplearning/...", "Value": "ami-..."}

`publish()` does the same in-process (tests under `moto.mock_aws`).
"""

from __future__ import annotations

import json
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.utils import utcnow
from moto.ssm.models import Parameter, ssm_backends

PUBLIC_PREFIX = "/aws/service/"
ROUTE = "{0}/moto-api/dogops/ssm-public-parameter"


def publish(name: str, value: str, region: str = "us-east-1",
            account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    if not name.startswith(PUBLIC_PREFIX):
        raise ValueError(f"public parameters live under {PUBLIC_PREFIX}, got {name!r}")
    parameters = ssm_backends[account_id][region]._parameters
    versions = parameters[name]
    versions.append(Parameter(
        account_id=account_id, name=name, value=value, parameter_type="String",
        description=None, allowed_pattern=None, keyid=None, last_modified_date=utcnow(),
        version=len(versions) + 1,
        data_type="aws:ec2:image" if value.startswith("ami-") else "text"))


def _route(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    try:
        body = json.loads(request.get_data() or b"{}")  # any content type
        publish(str(body["Name"]), str(body["Value"]), str(body.get("Region", "us-east-1")),
                str(body.get("AccountId", DEFAULT_ACCOUNT_ID)))
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as err:
        return 400, {"Content-Type": "application/json"}, json.dumps({"error": str(err)})
    return 200, {"Content-Type": "application/json"}, json.dumps({"ok": True})


def apply() -> None:
    from moto.moto_api._internal import urls as moto_api_urls

    moto_api_urls.url_paths[ROUTE] = _route
