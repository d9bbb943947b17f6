"""The one place that talks to the Docker engine and Compose.

Binaries are chosen by environment variables so users pick their own (HARDCASE_DOCKER,
HARDCASE_COMPOSE). By default a BuildKit-capable docker client is preferred: Debian's
/usr/bin/docker 20.10 has BuildKit built in, while newer clients need the buildx plugin.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.core.errors import EngineError

DEFAULT_TIMEOUT = 900


def docker_binary() -> str:
    chosen = os.environ.get("HARDCASE_DOCKER")
    if chosen:
        return chosen
    if Path("/usr/bin/docker").exists():
        return "/usr/bin/docker"
    found = shutil.which("docker")
    if not found:
        raise EngineError("no docker client found (install Docker or set HARDCASE_DOCKER)")
    return found


COMPOSE_MISSING = "Compose not found: install the Compose plugin or docker-compose, or set HARDCASE_COMPOSE"


def compose_binary() -> list[str]:
    """HARDCASE_COMPOSE, a docker-compose beside Python or on PATH, else the `docker compose` plugin.

    The plugin is asked for its version first: a docker client without it answers every `compose`
    command with its generic "not a docker command / see docker --help" line, which names nothing.
    """
    chosen = os.environ.get("HARDCASE_COMPOSE")
    if chosen:
        return chosen.split()
    beside_python = Path(sys.executable).parent / "docker-compose"
    if beside_python.exists():
        return [str(beside_python)]
    found = shutil.which("docker-compose")
    if found:
        return [found]
    client = docker_binary()
    if not _has_compose_plugin(client):
        raise EngineError(COMPOSE_MISSING)
    return [client, "compose"]


@functools.lru_cache(maxsize=8)
def _has_compose_plugin(client: str) -> bool:
    try:
        result = subprocess.run([client, "compose", "version"], capture_output=True, text=True, timeout=60,
                                check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and "compose" in (result.stdout + result.stderr).lower()


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def run(argv: list[str], *, check: bool = True, timeout: float = DEFAULT_TIMEOUT, input_text: str | None = None,
        env: dict[str, str] | None = None, cwd: Path | None = None) -> Result:
    full_env = {**os.environ, **(env or {})}
    try:
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input_text,
                                   env=full_env, cwd=cwd, check=False)
    except FileNotFoundError:
        raise EngineError(f"{argv[0]}: not found") from None
    except OSError as exc:  # not executable, a bad interpreter line
        raise EngineError(f"{argv[0]}: cannot run ({exc.strerror or exc.__class__.__name__})") from None
    except subprocess.TimeoutExpired:
        raise EngineError(f"{' '.join(argv[:3])}: timed out after {timeout:.0f} s") from None
    result = Result(completed.returncode, completed.stdout, completed.stderr)
    if check and completed.returncode != 0:
        if "compose" in argv[1:2] and "is not a docker command" in completed.stderr:
            raise EngineError(COMPOSE_MISSING)
        tail = (completed.stderr.strip() or completed.stdout.strip()).splitlines()[-1:] or ["no output"]
        command = " ".join([Path(argv[0]).name, *argv[1:3]])
        raise EngineError(f"{command} failed: {tail[0]}")
    return result


def docker(*args: str, check: bool = True, timeout: float = DEFAULT_TIMEOUT, input_text: str | None = None) -> Result:
    return run([docker_binary(), *args], check=check, timeout=timeout, input_text=input_text,
               env={"DOCKER_BUILDKIT": "1"})


def ensure_engine() -> None:
    result = docker("info", "--format", "{{.ServerVersion}}", check=False, timeout=30)
    if result.returncode != 0 or not result.stdout.strip():
        raise EngineError("the Docker engine is not reachable (is dockerd running? see scripts/engine-up.sh)")


def build(context: Path, tag: str, secrets: dict[str, Path]) -> Result:
    args = ["build", "--tag", tag]
    for secret_id, path in secrets.items():
        args += ["--secret", f"id={secret_id},src={path}"]
    return docker(*args, str(context))


def inspect(kind: str, name: str) -> dict[str, Any]:
    data = json.loads(docker(kind, "inspect", name).stdout)
    if not data:
        raise EngineError(f"{kind} {name}: not found")
    result: dict[str, Any] = data[0]
    return result


def compose(project_dir: Path, project: str, files: list[Path], *args: str, check: bool = True,
            timeout: float = DEFAULT_TIMEOUT) -> Result:
    # Compose runs in project_dir, so a relative path (`verify my-api`) would be read from inside it again
    # (my-api/my-api/compose.yaml): every path it is given is absolute.
    project_dir = project_dir.absolute()
    argv = [*compose_binary(), "--project-directory", str(project_dir), "-p", project]
    for file in files:
        argv += ["-f", str(file.absolute())]
    return run([*argv, *args], check=check, timeout=timeout, cwd=project_dir,
               env={"DOCKER_HOST": os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")})
