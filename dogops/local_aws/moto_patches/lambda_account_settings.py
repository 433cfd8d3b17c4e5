"""Lambda GetAccountSettings: the account's concurrency limit and what is left unreserved.

moto 5.2.5 answers `GET /2016-08-19/account-settings/` with 404 "Not yet implemented". As on
AWS, `AccountLimit.ConcurrentExecutions` is the account's *Concurrent executions* quota
(L-B99A9384: the value given through `service_quotas_catalog`, else AWS's default 1000) and
`UnreservedConcurrentExecutions` is that limit minus every function's reserved concurrency and
the provisioned concurrency of functions without a reservation (which AWS also takes from the
unreserved pool).
"""

from __future__ import annotations

import json
from typing import Any

from moto.awslambda import urls as lambda_urls
from moto.awslambda.responses import LambdaResponse
from moto.core.common_types import TYPE_RESPONSE

from dogops.local_aws.moto_patches import service_quotas_catalog
from dogops.local_aws.moto_patches.lambda_provisioned_concurrency import _STORE_ATTR

URL_PATTERN = r"{0}/(?P<api_version>[^/]+)/account-settings/?$"
CODE_SIZE_LIMIT = 80530636800  # 75 GB, AWS's default
DEFAULT_LIMIT = 1000


def concurrency_limit(account_id: str, region: str) -> int:
    key = (account_id, region, "lambda", "L-B99A9384")
    return int(service_quotas_catalog._applied.get(key, DEFAULT_LIMIT))


def unreserved(backend: Any, limit: int) -> int:
    taken = 0
    provisioned = backend.__dict__.get(_STORE_ATTR, {})
    for fn in backend.list_functions():
        if fn.reserved_concurrency:
            taken += int(fn.reserved_concurrency)
        else:
            taken += sum(config["RequestedProvisionedConcurrentExecutions"]
                         for (name, _), config in provisioned.items()
                         if name == fn.function_name)
    return limit - taken


class AccountSettingsResponse(LambdaResponse):
    def _get_action(self) -> str:
        return "GetAccountSettings"

    def get_account_settings(self) -> TYPE_RESPONSE:
        limit = concurrency_limit(self.current_account, self.region)
        functions = list(self.backend.list_functions())
        code_size = sum(int(getattr(fn, "code_size", 0) or 0) for fn in functions)
        body = {
            "AccountLimit": {
                "TotalCodeSize": CODE_SIZE_LIMIT,
                "CodeSizeUnzipped": 262144000,
                "CodeSizeZipped": 52428800,
                "ConcurrentExecutions": limit,
                "UnreservedConcurrentExecutions": unreserved(self.backend, limit),
            },
            "AccountUsage": {"TotalCodeSize": code_size, "FunctionCount": len(functions)},
        }
        return 200, {}, json.dumps(body)


def apply() -> None:
    lambda_urls.url_paths[URL_PATTERN] = AccountSettingsResponse.dispatch
