"""Resources an interrupted `terraform apply` created but never recorded (orphans).

On Ctrl-C Terraform stops gracefully, but the AWS provider cancels the calls in flight: a role or
bucket that AWS (or the emulator) had already created is missing from the state, and the re-run
fails with "already exists". `orphans_in(stderr)` finds them in that error output as
(resource address, import id) pairs; the import id is the name Terraform printed in
`creating <Type> (<id>)`, which is the import id of the resources of this stack (roles, bucket,
function, log group, SageMaker model/config/endpoint). `Backend.apply` adopts them with
`terraform import` and applies again on the local target; on AWS it prints the commands instead
of importing resources it cannot prove are ours.
"""

from __future__ import annotations

import re

ALREADY_EXISTS = re.compile(
    r"already exists|AlreadyExists|BucketAlreadyOwnedByYou|ResourceConflictException|"
    r"ResourceInUse", re.IGNORECASE)
_ERROR = re.compile(r"^Error: creating [^(\n]*\(([^)\s]+)\)[^\n]*$", re.MULTILINE)
_ADDRESS = re.compile(r"^\s*with ([\w.\-\[\]\"]+),\s*$", re.MULTILINE)


def orphans_in(stderr: str) -> list[tuple[str, str]]:
    """(address, import id) for every "creating X (id): ... already exists" error block."""
    found: list[tuple[str, str]] = []
    blocks = re.split(r"(?=^Error: )", stderr, flags=re.MULTILINE)
    for block in blocks:
        error = _ERROR.search(block)
        address = _ADDRESS.search(block)
        if error and address and ALREADY_EXISTS.search(block):
            pair = (address.group(1), error.group(1))
            if pair not in found:
                found.append(pair)
    return found


def import_commands(orphans: list[tuple[str, str]]) -> str:
    return "\n".join(f"  terraform import '{address}' '{ident}'" for address, ident in orphans)
