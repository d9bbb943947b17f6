"""Engine availability for tests: a missing engine fails in CI and is reported loudly elsewhere."""

from __future__ import annotations

import os
import subprocess

import pytest

from generator.engine import docker as engine

MIRROR = "127.0.0.1:5000"
# Versions the stand-in images really provide (see docs/standins.md), so stand-in and real image agree.
STANDIN_VERSIONS = {"python": "3.11", "node": "24", "go": "1.27"}


def engine_required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("HARDCASE_REQUIRE_ENGINE") == "1"


def require_engine() -> None:
    problem = None
    try:
        result = subprocess.run([engine.docker_binary(), "info", "--format", "{{.ServerVersion}}"],
                                capture_output=True, text=True, timeout=30, check=False)
        if result.returncode != 0:
            problem = result.stderr.strip().splitlines()[-1:] or ["docker info failed"]
    except (OSError, subprocess.TimeoutExpired) as exc:
        problem = [str(exc)]
    if problem is None:
        try:
            import urllib.request

            urllib.request.urlopen(f"http://{MIRROR}/v2/", timeout=5).close()
        except OSError as exc:
            problem = [f"no local registry at {MIRROR} ({exc}); run scripts/engine-up.sh"]
    if problem:
        message = f"Docker engine not available: {problem[0]}"
        if engine_required():
            pytest.fail(message + " (CI=true / HARDCASE_REQUIRE_ENGINE=1: engine tests must run)")
        pytest.skip(message + " — set HARDCASE_REQUIRE_ENGINE=1 to make this a failure")
