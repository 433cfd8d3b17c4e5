"""Wheels the model archive carries, so the serving container installs with no package index.

The SageMaker PyTorch containers pip-install ``requirements.txt`` at start (serving:
``code/requirements.txt`` in model.tar.gz; training: the source_dir's). ``training/requirements.txt``
says ``--no-index --find-links wheels``: pip resolves that relative path against the requirements
file's own directory (pip's req_file handles find-links that way whenever the joined path exists;
checked with pip 25.3 by tests/training/test_serving_offline.py), so the install reads
``training/wheels/`` in the training job and ``code/wheels/`` in the endpoint, and nothing else.

Where the wheels come from: ``training/requirements.lock`` pins the whole dependency closure of
the serving extras with sha256 hashes (for the inference image, CPython 3.12 manylinux x86_64,
and for the local CPython 3.11 the tests serve with). :func:`stage` downloads them once with
``pip download --require-hashes --only-binary=:all:`` into ``build/serving-wheels/<target>/`` and
mirrors that into ``training/wheels/`` (gitignored build output); ``copy_serving_code`` then puts
them into every model dir. Air-gapped: set ``DOGOPS_SERVING_WHEELS_DIR`` to a directory of the
pre-downloaded wheels; the same hashes are checked and no index is asked.

    python -m dogops.serving_wheels          # stage the image's wheels into training/wheels/
    python -m dogops.serving_wheels --lock   # re-pin training/requirements.lock (needs PyPI)
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dogops import config
from dogops.errors import UserError

REQUIREMENTS = config.TRAINING_DIR / "requirements.txt"
LOCK = config.TRAINING_DIR / "requirements.lock"
STAGED_DIR = config.TRAINING_DIR / "wheels"
CACHE_ROOT = config.REPO_ROOT / "build" / "serving-wheels"
WHEELS_DIR_VARIABLE = "DOGOPS_SERVING_WHEELS_DIR"
# The inference image's platform: glibc 2.35 (Ubuntu 22.04) accepts all of these; protobuf and
# friends publish manylinux2014 (= manylinux_2_17) wheels only.
MANYLINUX_X86_64 = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
PIP_TIMEOUT_S = 600
_LOCK_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


class ServingWheelsError(UserError):
    def __init__(self, message: str):
        super().__init__(message, exit_code=1)


@dataclass(frozen=True)
class Target:
    """An interpreter + platform the wheels are for."""

    python_version: str  # "3.12"
    platforms: tuple[str, ...] = MANYLINUX_X86_64

    @property
    def abi(self) -> str:
        return "cp" + self.python_version.replace(".", "")

    @property
    def name(self) -> str:
        return f"{self.abi}-{self.platforms[0]}"

    def pip_args(self) -> list[str]:
        args = ["--python-version", self.python_version, "--implementation", "cp",
                "--abi", self.abi, "--abi", "abi3", "--abi", "none"]
        for platform in (*self.platforms, "any"):
            args += ["--platform", platform]
        return args

    def describe(self) -> str:
        return f"CPython {self.python_version} {self.platforms[0]}"


# pytorch-inference:2.6.0-cpu-py312 (and pytorch-training:2.8.0-*-py312): what SageMaker runs.
IMAGE_TARGET = Target("3.12")
# The interpreter this repository's tests serve with (README: Python 3.11).
LOCAL_TARGET = Target(f"{sys.version_info.major}.{sys.version_info.minor}")
LOCK_TARGETS = (Target("3.11"), IMAGE_TARGET)  # the oldest first: its resolution pins both


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_hashes(lock: Path = LOCK) -> dict[str, set[str]]:
    """{normalized project name: sha256 hashes allowed} from the lock file."""
    if not lock.is_file():
        raise ServingWheelsError(f"{lock} is missing: run `python -m dogops.serving_wheels --lock`")
    hashes: dict[str, set[str]] = {}
    current = None
    for line in lock.read_text().splitlines():
        match = _LOCK_LINE.match(line)
        if match:
            current = normalize(match.group(1))
            hashes[current] = set()
        if current:
            hashes[current].update(_HASH.findall(line))
    return hashes


def wheel_project(path: Path) -> str:
    return normalize(path.name.split("-", 1)[0])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fits(wheel: Path, target: Target) -> bool:
    """Whether a wheel's file name tags install on ``target`` (the lock holds the hashes of
    several targets' files, so a hash match alone does not say which interpreter it is for)."""
    parts = wheel.name[: -len(".whl")].split("-")
    if len(parts) < 5:
        return False
    abis, platforms = set(parts[-2].split(".")), set(parts[-1].split("."))
    return bool(abis & {target.abi, "abi3", "none"}) and bool(
        platforms & {*target.platforms, "any"})


def complete(directory: Path, target: Target = IMAGE_TARGET, lock: Path = LOCK) -> bool:
    """True when ``directory`` holds exactly one locked wheel for ``target`` per locked project
    and nothing else (so a cached download is reused offline, and a stray file is never
    shipped)."""
    if not directory.is_dir():
        return False
    wheels = sorted(directory.iterdir())
    hashes = locked_hashes(lock)
    seen = [wheel_project(path) for path in wheels]
    return (sorted(seen) == sorted(hashes)
            and all(path.suffix == ".whl" and fits(path, target)
                    and sha256(path) in hashes[wheel_project(path)] for path in wheels))


def _pip_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def download(target: Target = IMAGE_TARGET, cache_root: Path = CACHE_ROOT,
             source_dir: Path | None = None, lock: Path = LOCK) -> Path:
    """The locked wheels for ``target`` in ``cache_root/<target>/``, downloaded (hash-checked)
    unless already there. ``source_dir`` (default: $DOGOPS_SERVING_WHEELS_DIR) replaces the
    package index with a directory of pre-downloaded wheels."""
    directory = Path(cache_root) / target.name
    if complete(directory, target, lock):
        return directory
    source = source_dir or (Path(os.environ[WHEELS_DIR_VARIABLE])
                            if os.environ.get(WHEELS_DIR_VARIABLE) else None)
    if source is not None and not Path(source).is_dir():
        raise ServingWheelsError(f"{WHEELS_DIR_VARIABLE}={source} is not a directory")
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=_made(cache_root)))
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
               "--only-binary=:all:", "--require-hashes", "-r", str(lock), "-d", str(partial),
               *target.pip_args()]
    if source is not None:
        command += ["--no-index", "--find-links", str(source)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False,
                                env=_pip_environment(), timeout=PIP_TIMEOUT_S)
        if result.returncode != 0:
            raise ServingWheelsError(_download_failure(target, source, result.stderr))
        if not complete(partial, target, lock):  # --no-deps: the lock must be the closure
            raise ServingWheelsError(f"the wheels downloaded for {target.describe()} do not "
                                     f"match {lock.name} one for one; re-pin it with "
                                     "`python -m dogops.serving_wheels --lock`")
        if directory.exists():
            shutil.rmtree(directory)
        partial.rename(directory)
    except subprocess.TimeoutExpired:
        raise ServingWheelsError(_download_failure(target, source, "pip timed out")) from None
    finally:
        if partial.exists():
            shutil.rmtree(partial)
    return directory


def _made(path: Path) -> Path:
    Path(path).mkdir(parents=True, exist_ok=True)
    return Path(path)


def _download_failure(target: Target, source: Path | None, stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()
             and not line.lstrip().startswith("WARNING")]
    errors = [line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR:")]
    if "DO NOT MATCH THE HASHES" in stderr:
        reason = f"a wheel does not match its sha256 in {LOCK.name} (a changed or wrong file)"
    else:
        reason = (errors or lines or ["pip failed"])[0][:300]
    where = f"from {source}" if source else "from the package index"
    return (f"cannot get the serving wheels for {target.describe()} {where} ({reason}). "
            "The model archive must carry them (the endpoint installs with no index). Without "
            f"access to PyPI, download the files pinned in {LOCK.relative_to(config.REPO_ROOT)} "
            f"for that platform elsewhere and set {WHEELS_DIR_VARIABLE} to their directory")


def stage(target: Target = IMAGE_TARGET, dest: Path = STAGED_DIR,
          cache_root: Path = CACHE_ROOT) -> Path:
    """Make ``dest`` (training/wheels/) hold exactly the locked wheels for ``target``: the
    source_dir shipped to training then carries them into every model archive it writes."""
    if complete(dest, target):
        return dest
    cached = download(target, cache_root)
    staging = Path(tempfile.mkdtemp(prefix=".wheels-", dir=_made(dest.parent)))
    try:
        for wheel in cached.iterdir():
            shutil.copy2(wheel, staging / wheel.name)
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return dest


def _top_level_requirements(requirements: Path) -> list[str]:
    return [line.strip() for line in requirements.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith(("#", "-"))]


def write_lock(requirements: Path = REQUIREMENTS, lock: Path = LOCK,
               targets: tuple[Target, ...] = LOCK_TARGETS) -> Path:
    """Re-pin ``lock``: resolve the requirements' closure for the first target, download the
    same versions for the others, and record every file's sha256 (trust on first download,
    as pip-compile does; review the diff)."""
    versions: dict[str, str] = {}
    hashes: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        wanted = Path(scratch) / "requirements.in"
        wanted.write_text("\n".join(_top_level_requirements(requirements)) + "\n")
        for index, target in enumerate(targets):
            out = Path(scratch) / target.name
            command = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
                       "-r", str(wanted), "-d", str(out), *target.pip_args()]
            if versions:
                pins = Path(scratch) / "pins.txt"
                pins.write_text("".join(f"{n}=={v}\n" for n, v in sorted(versions.items())))
                command += ["-c", str(pins)]
            result = subprocess.run(command, capture_output=True, text=True, check=False,
                                    env=_pip_environment(), timeout=PIP_TIMEOUT_S)
            if result.returncode != 0:
                raise ServingWheelsError(_download_failure(target, None, result.stderr))
            for wheel in sorted(out.glob("*.whl")):
                project, version = wheel_project(wheel), wheel.name.split("-")[1]
                if index == 0:
                    versions[project] = version
                elif versions.get(project) != version:
                    raise ServingWheelsError(f"{target.describe()} resolved {project} "
                                             f"{version}, not {versions.get(project)}")
                hashes.setdefault(project, set()).add(sha256(wheel))
    header = ("# The serving extras' full closure, pinned with the sha256 of each wheel for\n"
              + "".join(f"# {t.describe()}\n" for t in targets)
              + "# Generated by `python -m dogops.serving_wheels --lock` from requirements.txt;\n"
              "# dogops.serving_wheels downloads exactly these into the model archive's wheels/.\n")
    body = "".join(
        f"{project}=={versions[project]} \\\n"
        + " \\\n".join(f"    --hash=sha256:{digest}" for digest in sorted(hashes[project]))
        + "\n"
        for project in sorted(versions))
    lock.write_text(header + body)
    return lock


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["--lock"]):
        print("usage: python -m dogops.serving_wheels [--lock]", file=sys.stderr)
        return 2
    try:
        if args:
            print(write_lock())
        else:
            dest = stage()
            print(f"{dest}: {', '.join(sorted(p.name for p in dest.iterdir()))}")
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
