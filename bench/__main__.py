"""Run every benchmark module in bench/ that defines ``main()``: ``python -m bench [NAME ...]``.

Each module prints its own ratios against a baseline it measures in the same run; this runner
only discovers them, runs them one after another (they compete for the same cores otherwise),
stores what each ``main()`` returns in bench/results/<name>.json and exits non-zero if any fails.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# Helpers that are not benchmarks themselves, even if they define main().
NOT_BENCHMARKS = {"__main__", "__init__", "starter"}


def discover() -> list[str]:
    names = []
    for path in sorted(BENCH_DIR.glob("*.py")):
        if path.stem in NOT_BENCHMARKS or path.stem.startswith("_"):
            continue
        if "def main(" in path.read_text(encoding="utf-8"):
            names.append(path.stem)
    return names


def run(name: str) -> bool:
    print(f"=== bench.{name} ===", flush=True)
    started = time.perf_counter()
    try:
        module = importlib.import_module(f"bench.{name}")
        saved_argv, sys.argv = sys.argv, [f"bench.{name}"]  # defaults, not the runner's args
        try:
            takes_args = bool(inspect.signature(module.main).parameters)
            result = module.main([]) if takes_args else module.main()
        finally:
            sys.argv = saved_argv
    except SystemExit as exited:  # a benchmark that ends through argparse or sys.exit
        ok = exited.code in (0, None)
        print(f"bench.{name} exited with {exited.code}", flush=True)
        return ok
    except Exception:  # noqa: BLE001  (one failing benchmark must not hide the others)
        traceback.print_exc()
        print(f"bench.{name} FAILED after {time.perf_counter() - started:.0f} s", flush=True)
        return False
    print(f"bench.{name} took {time.perf_counter() - started:.0f} s", flush=True)
    if isinstance(result, int) and not isinstance(result, bool) and result != 0:
        print(f"bench.{name} returned exit status {result}", flush=True)
        return False
    if isinstance(result, dict):
        results_dir = BENCH_DIR / "results"
        results_dir.mkdir(exist_ok=True)
        (results_dir / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))
    return True


def main(argv: list[str] | None = None) -> int:
    available = discover()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"subset to run (default: all of {available})")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(available))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {available}")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    failures = [name for name in (args.names or available) if not run(name)]
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
