"""Terraform state locks: who holds one, and the exact command that releases a crashed run's.

Terraform's S3 backend (`use_lockfile = true`) locks with a `<key>.tflock` object written with
`If-None-Match: *`; a second run fails at once (or after `-lock-timeout`) with "Error acquiring
the state lock" and a "Lock Info:" block. We turn that block into one line that names the holder
and the lock ID, and say how to release it when the holder is gone (`terraform force-unlock`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dogops.errors import UserError

LOCK_ERROR = "Error acquiring the state lock"
_FIELD = re.compile(r"^\s*(ID|Path|Operation|Who|Version|Created|Info):\s*(.*?)\s*$")
# Terraform's Lock Info may be decorated with box characters in colour/automation output.
_DECORATION = re.compile(r"^[\s│|]*")


@dataclass(frozen=True)
class LockInfo:
    lock_id: str
    path: str = ""
    operation: str = ""
    who: str = ""
    created: str = ""


class StateLockedError(UserError):
    """The state is locked by another run; carries the lock so callers can offer a release."""

    def __init__(self, message: str, lock: LockInfo):
        super().__init__(message, exit_code=1)
        self.lock = lock


def parse_lock_error(stderr: str) -> LockInfo | None:
    """The Lock Info block of a failed terraform command, or None if it was not a lock error."""
    if LOCK_ERROR not in stderr:
        return None
    fields: dict[str, str] = {}
    for raw in stderr.splitlines():
        match = _FIELD.match(_DECORATION.sub("", raw))
        if match and match.group(1) not in fields:
            fields[match.group(1)] = match.group(2)
    if not fields.get("ID"):
        return None
    return LockInfo(lock_id=fields["ID"], path=fields.get("Path", ""),
                    operation=fields.get("Operation", "").removeprefix("OperationType"),
                    who=fields.get("Who", ""), created=fields.get("Created", ""))


def locked_message(lock: LockInfo, unlock_command: str) -> str:
    """One line: holder, what it is doing since when, and the release command."""
    created = lock.created.split(".")[0] + " UTC" if lock.created else "an unknown time"
    holder = lock.who or "an unknown holder"
    what = f"{lock.operation.lower()} " if lock.operation else ""
    where = f" {lock.path}" if lock.path else ""
    return (f"the Terraform state{where} is locked by {holder} ({what}since {created}, lock ID "
            f"{lock.lock_id}): wait for that run to finish and retry; only if it crashed, release "
            f"the lock with `{unlock_command.format(lock_id=lock.lock_id)}`")
