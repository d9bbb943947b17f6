"""Wall time of `hardcase new --no-input` per preset, as a user runs it (a fresh process each time).

Usage: python scripts/bench_new.py [--runs N]   (median and max of N runs per preset; target ≤ 0.3 s)
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def hardcase() -> list[str]:
    beside = Path(sys.executable).parent / "hardcase"
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "generator"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    listing = subprocess.run([*hardcase(), "presets", "--format", "json"], capture_output=True, text=True, check=True)
    presets = [p["name"] for p in json.loads(listing.stdout)]
    print(f"{'preset':<16} {'median s':>9} {'max s':>7}  ({args.runs} runs, fresh process each)")
    for preset in presets:
        times = []
        for _ in range(args.runs):
            out = Path(tempfile.mkdtemp(prefix="hardcase-bench-"))
            started = time.perf_counter()
            subprocess.run([*hardcase(), "new", str(out / "svc"), "--preset", preset, "--no-input", "--with-app"],
                           check=True, capture_output=True)
            times.append(time.perf_counter() - started)
            shutil.rmtree(out)
        print(f"{preset:<16} {statistics.median(times):>9.3f} {max(times):>7.3f}")


if __name__ == "__main__":
    main()
