"""Lambda provisioned concurrency: Put/Get/Delete/ListProvisionedConcurrencyConfig(s).

moto 5.2.5 has no route for `/functions/<name>/provisioned-concurrency` (404 HTML), so
`aws_lambda_provisioned_concurrency_config` cannot be created. Here a config is stored per function
+ qualifier and, as on AWS, that many execution environments of the version are initialised in
the background (`lambda_environments`): the config reports `IN_PROGRESS` with the count allocated
so far, then `READY`, or `FAILED` with the init error as `StatusReason`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from moto.awslambda import urls as lambda_urls
from moto.awslambda.exceptions import InvalidParameterValueException, LambdaClientError
from moto.awslambda.models import LambdaBackend
from moto.awslambda.responses import LambdaResponse
from moto.core.common_types import TYPE_RESPONSE
from moto.core.utils import iso_8601_datetime_with_nanoseconds

from dogops.local_aws.moto_patches import lambda_invoke
from dogops.local_aws.moto_patches.lambda_environments import POOL

URL_PATTERN = (
    r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/provisioned-concurrency/?$"
)
_STORE_ATTR = "_dogops_provisioned_concurrency"


class ProvisionedConcurrencyConfigNotFound(LambdaClientError):
    code = 404

    def __init__(self) -> None:
        super().__init__(
            "ProvisionedConcurrencyConfigNotFoundException",
            "No Provisioned Concurrency Config found for this function",
        )


class ProvisionedConcurrencyResponse(LambdaResponse):
    """The four provisioned-concurrency operations; they share one URL, told apart here."""

    def _get_action(self) -> str:
        if self.method == "PUT":
            return "PutProvisionedConcurrencyConfig"
        if self.method == "DELETE":
            return "DeleteProvisionedConcurrencyConfig"
        if self.querystring.get("List"):
            return "ListProvisionedConcurrencyConfigs"
        return "GetProvisionedConcurrencyConfig"

    # -- helpers -----------------------------------------------------------------------------
    def _function_name(self) -> str:
        return unquote(self.path.rstrip("/").rsplit("/", 2)[-2])

    def _store(self) -> dict[tuple[str, str], dict[str, Any]]:
        return self.backend.__dict__.setdefault(_STORE_ATTR, {})

    def _resolved(self) -> tuple[Any, str]:
        """The function (checked to exist) and the qualifier, which must name a version/alias."""
        qualifier = self._get_param("Qualifier")
        if not qualifier or qualifier == "$LATEST":
            raise InvalidParameterValueException(
                "Provisioned Concurrency Configs cannot be applied to unpublished function "
                "versions: pass a published version number or an alias as Qualifier"
            )
        fn = self.backend.get_function(self._function_name(), qualifier)
        return fn, qualifier

    # -- operations --------------------------------------------------------------------------
    def put_provisioned_concurrency_config(self) -> TYPE_RESPONSE:
        fn, qualifier = self._resolved()
        requested = json.loads(self.body or "{}").get("ProvisionedConcurrentExecutions")
        if not isinstance(requested, int) or requested < 1:
            raise InvalidParameterValueException(
                "ProvisionedConcurrentExecutions must be an integer of at least 1"
            )
        reserved = self.backend.get_function_concurrency(fn.function_name)
        if reserved is not None and requested > int(reserved):
            raise InvalidParameterValueException(
                "Requested Provisioned Concurrency should not be greater than the "
                f"reservedConcurrentExecution ({reserved}) for function {fn.function_name}"
            )
        config = {
            "RequestedProvisionedConcurrentExecutions": requested,
            "LastModified": iso_8601_datetime_with_nanoseconds(),
        }
        self._store()[(fn.function_name, qualifier)] = config
        spec = lambda_invoke.function_spec(fn)
        problem = lambda_invoke._unsupported(spec)
        if problem is None:
            code_dir = lambda_invoke.unpacked_code_dir(fn.code_bytes, spec.code_sha256)
            POOL.provision(spec, code_dir, lambda_invoke.handler_environment(spec), requested,
                           lambda_invoke.write_logs)
        else:
            config["_failure"] = problem["errorMessage"]
        config["_version_key"] = spec.version_key
        return 202, {"status": 202}, json.dumps(_with_status(config))

    def get_provisioned_concurrency_config(self) -> TYPE_RESPONSE:
        fn, qualifier = self._resolved()
        config = self._store().get((fn.function_name, qualifier))
        if config is None:
            raise ProvisionedConcurrencyConfigNotFound()
        return 200, {}, json.dumps(_with_status(config))

    def delete_provisioned_concurrency_config(self) -> TYPE_RESPONSE:
        fn, qualifier = self._resolved()
        config = self._store().pop((fn.function_name, qualifier), None)
        if config is None:
            raise ProvisionedConcurrencyConfigNotFound()
        POOL.unprovision(config["_version_key"])
        return 204, {"status": 204}, ""

    def list_provisioned_concurrency_configs(self) -> TYPE_RESPONSE:
        fn = self.backend.get_function(self._function_name(), None)
        configs = [
            {"FunctionArn": f"{fn.function_arn}:{qualifier}", **_with_status(config)}
            for (name, qualifier), config in sorted(self._store().items())
            if name == fn.function_name
        ]
        return 200, {}, json.dumps({"ProvisionedConcurrencyConfigs": configs})


def _with_status(config: dict[str, Any]) -> dict[str, Any]:
    """The stored config with the allocation the environment pool reports now."""
    shown = {k: v for k, v in config.items() if not k.startswith("_")}
    requested = config["RequestedProvisionedConcurrentExecutions"]
    status = POOL.provisioned_status(config["_version_key"]) or {"allocated": 0, "failure": None}
    failure = config.get("_failure") or status["failure"]
    allocated = min(status["allocated"], requested)
    shown["AvailableProvisionedConcurrentExecutions"] = allocated
    shown["AllocatedProvisionedConcurrentExecutions"] = allocated
    if failure:
        shown["Status"], shown["StatusReason"] = "FAILED", failure
    else:
        shown["Status"] = "READY" if allocated >= requested else "IN_PROGRESS"
    return shown


_original_delete_function = LambdaBackend.delete_function


def _delete_function(self: LambdaBackend, function_name: str, qualifier: str | None = None) -> None:
    """Deleting a function (or one version of it) also drops its provisioned concurrency."""
    _original_delete_function(self, function_name, qualifier)
    name = function_name.split(":function:")[-1].split(":")[0]
    store = self.__dict__.get(_STORE_ATTR, {})
    for key in [k for k in store if k[0] == name and qualifier in (None, k[1])]:
        del store[key]
    POOL.forget((self.account_id, self.region_name, name), qualifier)


def apply() -> None:
    lambda_urls.url_paths[URL_PATTERN] = ProvisionedConcurrencyResponse.dispatch
    LambdaBackend.delete_function = _delete_function
