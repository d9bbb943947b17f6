"""Wall time of `hardcase check` against hadolint, as a user runs them (a fresh process each time).

Usage: python scripts/bench_check.py [--runs N] [--file DOCKERFILE]

1. One file (default: the corpus's largest Dockerfile): median of N runs of
   `hardcase check FILE --format json` and of `hadolint --no-fail -f json FILE`.
2. The whole corpus: `hardcase check tests/corpus --format json` once (it finds every Dockerfile
   itself) against hadolint run once per file, summed; median of N such passes.

Both tools print JSON, run from an empty directory with HOME pointing there (hadolint reads no
configuration), and get one unmeasured warm-up run. Ratios are hardcase / hadolint: below 1 means
hardcase is faster. The target (issue 4) is "no slower" on one file.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus"


def hardcase() -> list[str]:
    beside = Path(sys.executable).parent / "hardcase"
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "generator"]


def hadolint() -> str:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else "hadolint"


def wall(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-500:]}")
    return elapsed


def median_of(runs: int, measure: Callable[[], float]) -> float:
    measure()  # warm-up (page cache, .pyc files)
    return statistics.median(measure() for _ in range(runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per measurement (median; default 15)")
    parser.add_argument("--file", type=Path, help="the one-file case (default: the largest corpus Dockerfile)")
    args = parser.parse_args()
    if args.runs < 10:
        parser.error("--runs: at least 10 runs")
    files = sorted(CORPUS.glob("*/Dockerfile"))
    one = (args.file or max(files, key=lambda p: p.stat().st_size)).resolve()

    with tempfile.TemporaryDirectory(prefix="hardcase-bench-") as tmp:
        cwd = Path(tmp)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "XDG_CONFIG_HOME": tmp,
               "PYTHONPATH": str(REPO), "LANG": os.environ.get("LANG", "C.UTF-8")}
        check_one = [*hardcase(), "check", str(one), "--format", "json"]
        lint_one = [hadolint(), "--no-fail", "-f", "json", str(one)]
        python_start = median_of(args.runs, lambda: wall([sys.executable, "-c", "pass"], cwd, env))
        hardcase_one = median_of(args.runs, lambda: wall(check_one, cwd, env))
        hadolint_one = median_of(args.runs, lambda: wall(lint_one, cwd, env))
        check_all = [*hardcase(), "check", str(CORPUS), "--format", "json"]
        hardcase_all = median_of(args.runs, lambda: wall(check_all, cwd, env))
        hadolint_all = median_of(
            args.runs, lambda: sum(wall([hadolint(), "--no-fail", "-f", "json", str(f)], cwd, env) for f in files))

    print(f"hardcase check vs hadolint — wall time, median of {args.runs} runs, fresh process each\n")
    print(f"{'case':<44} {'hardcase s':>10} {'hadolint s':>10} {'ratio':>6}")
    print(f"{'one file: ' + one.parent.name:<44} {hardcase_one:>10.4f} {hadolint_one:>10.4f} "
          f"{hardcase_one / hadolint_one:>6.2f}")
    print(f"{f'corpus: {len(files)} files, 1 call vs 1 per file':<44} {hardcase_all:>10.4f} {hadolint_all:>10.4f} "
          f"{hardcase_all / hadolint_all:>6.2f}")
    print(f"\n(python -c pass alone: {python_start:.4f} s; ratio = hardcase / hadolint, < 1 means hardcase is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
