"""How long `hardcase harden` and `hardcase check` take on big Dockerfiles, and their peak memory.

Usage: python scripts/bench_limits.py [--runs N]

Each measurement is one fresh process running the command through the CLI entry point, as a user
runs it (`check` with its default text report); the process reports its own wall time (interpreter
start included) and peak RSS (`resource.getrusage(RUSAGE_SELF).ru_maxrss`). The script prints the
median of N runs (default 3) next to the targets of issue #11: 10,000 RUN lines hardened in at most
2 s; a 5 MB file checked in at most 2 s with at most 200 MB. It is a measurement, not a test: the
regression tests (tests/test_safety_limits.py) count work instead, which does not depend on the machine.

Workloads:
- harden, 10,000 RUN lines: one command each (`RUN echo step N`, what HC055 merges), a realistic
  mix of install/download/sudo commands, and one `apt-get install` per line (the most fixes per line);
- check, 5 MB: the legacy corpus' Dockerfiles repeated (realistic density, ~45 bytes an instruction)
  and the same commands as long continued RUNs (fewer, longer instructions);
- the refusals: a file over the size limit and one 5 MB instruction are refused at once.

On this 2-core machine BuildKit's parser (the `dockerfile` package) alone takes about 1.5-2 s for 5 MB
of corpus-density Dockerfile; the script prints that share separately, so what hardcase adds shows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus"
RUNNER = """
import io, json, resource, sys, time
started = time.perf_counter()
sys.path.insert(0, sys.argv[1])
if sys.argv[2] == "buildkit":
    import dockerfile
    dockerfile.parse_string(open(sys.argv[3], encoding="utf-8").read())
    code = 0
else:
    from generator.cli.main import Environment, main
    code = main(sys.argv[2:], Environment(stdout=io.StringIO(), stderr=io.StringIO(), stdin_isatty=False))
print(json.dumps({"code": int(code), "seconds": time.perf_counter() - started,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
REALISTIC = [
    "apt-get update && apt-get install -y curl ca-certificates",
    "pip install flask gunicorn==20.1.0",
    "npm install -g pm2 @angular/cli@1.7.4",
    "curl -sL https://deb.nodesource.com/setup_8.x | bash -",
    "sudo chmod 777 /app",
    "cd /app && make && make install",
    "apk add --update git gcc musl-dev",
    "wget https://example.com/tool.tar.gz && tar -xzf tool.tar.gz",
    "useradd -m -s /bin/bash deploy",
    "echo 'done' > /etc/motd",
]


def write_inputs(directory: Path) -> dict[str, Path]:
    files = {
        "harden-10k-echo": "FROM debian:12-slim\n" + "".join(f"RUN echo step {i}\n" for i in range(10_000)),
        "harden-10k-realistic": "FROM debian:12-slim\n" + "".join(
            f"RUN {REALISTIC[i % len(REALISTIC)]} # {i}\n" for i in range(10_000)) + "CMD python app.py\n",
        "harden-10k-apt": "FROM debian:12-slim\n" + "".join(
            f"RUN apt-get update && apt-get install -y pkg{i}\n" for i in range(10_000)),
    }
    corpus = "".join(text if text.endswith("\n") else text + "\n" for text in (
        p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*/Dockerfile"))) if "# escape=`" not in text)
    dense = (corpus * (5_000_000 // len(corpus) + 1))[:5_000_000]
    files["check-5mb-corpus"] = dense[:dense.rfind("\nFROM") + 1]
    step = "RUN " + " \\\n    && ".join(REALISTIC) + "\n"
    files["check-5mb-long-runs"] = "FROM debian:12-slim\n" + step * (5_000_000 // len(step))
    files["refuse-over-10mib"] = "FROM debian:12\n" + "# padding comment line\n" * 460_000
    files["refuse-5mb-instruction"] = "FROM debian:12\nRUN echo start" + " \\\n  && echo more" * 300_000 + "\n"
    paths = {}
    for name, text in files.items():
        paths[name] = directory / f"{name}.Dockerfile"
        paths[name].write_text(text, encoding="utf-8")
    return paths


def measure(argv: list[str]) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(REPO), *argv], capture_output=True, text=True,
                          check=True, timeout=600)
    return dict(json.loads(proc.stdout.splitlines()[-1]))


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--runs", type=int, default=3)
    runs = options.parse_args().runs
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        paths = write_inputs(directory)
        out = directory / "out.Dockerfile"
        print(f"{'workload':26} {'size':>8} {'exit':>4} {'median s':>9} {'peak MB':>8}  target")
        for name, path in paths.items():
            size = f"{os.path.getsize(path) / 1e6:.1f}MB"
            if name.startswith("harden"):
                argv, target = ["harden", str(path), "--unsafe-fixes", "-o", str(out), "--force"], "<= 2 s"
            else:
                argv, target = ["check", str(path)], \
                    "<= 2 s, <= 200 MB" if name.startswith("check") else "refused (exit 2) at once"
            results = [measure(argv) for _ in range(runs)]
            seconds = statistics.median(r["seconds"] for r in results)
            peak = max(r["rss_mb"] for r in results)
            print(f"{name:26} {size:>8} {int(results[0]['code']):>4} {seconds:9.2f} {peak:8.0f}  {target}")
            if name.startswith("check"):
                parser = statistics.median(measure(["buildkit", str(path)])["seconds"] for _ in range(runs))
                print(f"{'  of which BuildKit alone':26} {'':>8} {'':>4} {parser:9.2f}")


if __name__ == "__main__":
    main()
