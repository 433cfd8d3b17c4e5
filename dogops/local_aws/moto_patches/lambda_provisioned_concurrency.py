"""Lambda provisioned concurrency: Put/Get/Delete/ListProvisionedConcurrencyConfig(s).

moto 5.2.5 has no route for `/functions/<name>/provisioned-concurrency` (404 HTML), so
`aws_lambda_provisioned_concurrency_config` cannot be created. The emulator has no cold starts to
avoid, so a stored config is immediately fully allocated and READY, as AWS reports it once warm.
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
            "AvailableProvisionedConcurrentExecutions": requested,
            "AllocatedProvisionedConcurrentExecutions": requested,
            "Status": "READY",
            "LastModified": iso_8601_datetime_with_nanoseconds(),
        }
        self._store()[(fn.function_name, qualifier)] = config
        return 202, {"status": 202}, json.dumps(config)

    def get_provisioned_concurrency_config(self) -> TYPE_RESPONSE:
        fn, qualifier = self._resolved()
        config = self._store().get((fn.function_name, qualifier))
        if config is None:
            raise ProvisionedConcurrencyConfigNotFound()
        return 200, {}, json.dumps(config)

    def delete_provisioned_concurrency_config(self) -> TYPE_RESPONSE:
        fn, qualifier = self._resolved()
        if self._store().pop((fn.function_name, qualifier), None) is None:
            raise ProvisionedConcurrencyConfigNotFound()
        return 204, {"status": 204}, ""

    def list_provisioned_concurrency_configs(self) -> TYPE_RESPONSE:
        fn = self.backend.get_function(self._function_name(), None)
        configs = [
            {"FunctionArn": f"{fn.function_arn}:{qualifier}", **config}
            for (name, qualifier), config in sorted(self._store().items())
            if name == fn.function_name
        ]
        return 200, {}, json.dumps({"ProvisionedConcurrencyConfigs": configs})


_original_delete_function = LambdaBackend.delete_function


def _delete_function(self: LambdaBackend, function_name: str, qualifier: str | None = None) -> None:
    """Deleting a function (or one version of it) also drops its provisioned concurrency."""
    _original_delete_function(self, function_name, qualifier)
    name = function_name.split(":function:")[-1].split(":")[0]
    store = self.__dict__.get(_STORE_ATTR, {})
    for key in [k for k in store if k[0] == name and qualifier in (None, k[1])]:
        del store[key]


def apply() -> None:
    lambda_urls.url_paths[URL_PATTERN] = ProvisionedConcurrencyResponse.dispatch
    LambdaBackend.delete_function = _delete_function
