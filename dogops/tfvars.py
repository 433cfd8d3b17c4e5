"""The values Terraform will use for the root variables, read before any plan.

The preflight must know reserved/provisioned concurrency, instance types and capacities before
Terraform runs. Terraform's own precedence is followed: variable defaults, then
terraform.tfvars(.json), then *.auto.tfvars(.json) in lexical order, then -var-file files in
order, then the tooling's own variables. Only scalar values are read (all these settings are
scalars); `user_set` tells which ones someone chose rather than left at the default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dogops.errors import UserError

_VARIABLE = re.compile(r'^variable\s+"([A-Za-z0-9_]+)"\s*\{(.*?)^\}', re.MULTILINE | re.DOTALL)
_DEFAULT = re.compile(r"^\s*default\s*=\s*(.+?)\s*$", re.MULTILINE)
_ASSIGNMENT = re.compile(r"^\s*([A-Za-z0-9_]+)\s*=\s*(.+?)\s*$", re.MULTILINE)


def _scalar(text: str) -> object:
    """An HCL scalar literal (number, string, bool, null); anything else is left as text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def variable_defaults(terraform_dir: Path) -> dict[str, object]:
    defaults: dict[str, object] = {}
    for path in sorted(Path(terraform_dir).glob("*.tf")):
        for name, body in _VARIABLE.findall(path.read_text()):
            match = _DEFAULT.search(body)
            if match:
                defaults[name] = _scalar(match.group(1))
    return defaults


def read_var_file(path: Path) -> dict[str, object]:
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise UserError(f"{path} is not valid JSON: {err}") from None
        return data if isinstance(data, dict) else {}
    return {name: _scalar(value) for name, value in _ASSIGNMENT.findall(path.read_text())}


@dataclass(frozen=True)
class Variables:
    values: Mapping[str, object]
    user_set: frozenset[str]

    def __getitem__(self, name: str) -> object:
        return self.values.get(name)


def effective_variables(terraform_dir: Path, var_files: Sequence[Path] = (),
                        extra: Mapping[str, object] | None = None) -> Variables:
    terraform_dir = Path(terraform_dir)
    values = variable_defaults(terraform_dir)
    chosen: set[str] = set()
    files = [terraform_dir / "terraform.tfvars", terraform_dir / "terraform.tfvars.json",
             *sorted(p for p in terraform_dir.glob("*.auto.tfvars*")
                     if p.name.endswith((".auto.tfvars", ".auto.tfvars.json"))),
             *[Path(p) for p in var_files]]
    seen: set[Path] = set()
    for path in files:
        if path.is_file() and path.resolve() not in seen:
            seen.add(path.resolve())
            data = read_var_file(path)
            values.update(data)
            chosen.update(data)
    if extra:
        values.update(extra)
        chosen.update(extra)
    return Variables(values, frozenset(chosen))
