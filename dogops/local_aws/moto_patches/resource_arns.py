"""The resource ARN an action is authorised against, where moto checks only against "*".

moto's access control (`BaseResponse.call_action`) asks a response class for
`_determine_resource()`; only IAM, STS and SQS define it (S3 computes bucket/object ARNs on its
own path). For every other service the request is checked against the resource "*", so a
statement scoped to an ARN, as least privilege demands, never matches and the request is denied.
This adds the ARN for the actions the stack's components call with their own role:

- `sagemaker:InvokeEndpoint` (the Lambda role): `arn:<partition>:sagemaker:<region>:<account>:endpoint/<name>`,
  the name in lower case as SageMaker's endpoint ARNs carry it.

Every other action of these services keeps moto's "*"; what that means is listed in
docs/security.md (emulator evaluation gaps).
"""

from __future__ import annotations

from urllib.parse import unquote

from moto.sagemakerruntime.responses import SageMakerRuntimeResponse
from moto.utilities.utils import get_partition


def endpoint_arn(partition: str, region: str, account: str, endpoint_name: str) -> str:
    return f"arn:{partition}:sagemaker:{region}:{account}:endpoint/{endpoint_name.lower()}"


def _runtime_resource(self: SageMakerRuntimeResponse) -> str:
    parts = self.path.rstrip("/").split("/")  # /endpoints/<name>/invocations[-async]
    if len(parts) >= 3 and parts[-3] == "endpoints":
        return endpoint_arn(get_partition(self.region), self.region, self.current_account,
                            unquote(parts[-2]))
    return "*"


def apply() -> None:
    SageMakerRuntimeResponse._determine_resource = _runtime_resource
