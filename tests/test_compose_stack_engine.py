"""A legacy multi-service stack in a real engine: it comes up healthy as written.

`tests/stacks/legacy/` is a compose file in the style people really write — an app, PostgreSQL with
its password in plain environment, Redis, every port published on all addresses, no limits, a
comment and anchors with merge keys — plus the app, built FROM the python stand-in. The app's
/health answers 200 only when a PostgreSQL StartupMessage to `db` gets an authentication request
back and a Redis PING to `cache` gets +PONG, so a healthy app proves the three services talk.
The database and the cache are the postgres and redis stand-ins (docs/standins.md).

Each stack runs as its own compose project on free host ports (written to the copy's `.env`, which
the compose file reads through `${APP_PORT:-8080}`-style defaults) and is torn down with its volumes;
nothing of it may be left in the engine.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from generator.engine import docker as engine
from generator.engine import hostproc
from tests.engine_support import require_engine

pytestmark = pytest.mark.engine

LEGACY = Path(__file__).parent / "stacks" / "legacy"
APP_IMAGE = "hardcase-stack-orders-app:dev"  # the `image:` the fixture names for its `build:`
SERVICES = ("app", "db", "cache")
PORT_VARIABLES = {"app": "APP_PORT", "db": "DB_PORT", "cache": "CACHE_PORT"}
UP_TIMEOUT = 240


@pytest.fixture(scope="module", autouse=True)
def _engine() -> None:
    require_engine()


@contextmanager
def built_app_image() -> Iterator[str]:
    """The app built with BuildKit (offline: FROM the python stand-in, standard library only), then removed."""
    result = engine.docker("build", "--tag", APP_IMAGE, str(LEGACY / "app"), check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    try:
        yield APP_IMAGE
    finally:
        engine.docker("image", "rm", "--force", APP_IMAGE, check=False)


@pytest.fixture(scope="module")
def app_image() -> Iterator[str]:
    with built_app_image() as image:
        yield image


def load_app_module() -> ModuleType:
    """The app's own protocol probes, to talk to the database and the cache from the host too."""
    spec = importlib.util.spec_from_file_location("legacy_stack_server", LEGACY / "app" / "server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


APP = load_app_module()


def free_ports(count: int) -> list[int]:
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


@dataclass
class Stack:
    directory: Path
    file: Path
    project: str
    ports: dict[str, int]  # service → the host port its ${..._PORT} variable gives

    def compose(self, *args: str, check: bool = True) -> engine.Result:
        return engine.compose(self.directory, self.project, [self.file], *args, check=check,
                              timeout=UP_TIMEOUT + 120)

    def container(self, service: str) -> dict[str, Any]:
        container_id = self.compose("ps", "--all", "--quiet", service).stdout.strip()
        assert container_id, f"no container for service {service}"
        return engine.inspect("container", container_id)


def copy_stack(tmp_path: Path) -> Stack:
    directory = tmp_path / "legacy"
    shutil.copytree(LEGACY, directory)
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    (directory / ".env").write_text("".join(f"{PORT_VARIABLES[s]}={p}\n" for s, p in ports.items()))
    return Stack(directory, directory / "compose.yaml", f"hcstack-{uuid.uuid4().hex[:10]}", ports)


def leftovers(project: str) -> dict[str, list[str]]:
    label = f"label=com.docker.compose.project={project}"
    found = {
        "containers": engine.docker("ps", "--all", "--quiet", "--filter", label).stdout.split(),
        "volumes": engine.docker("volume", "ls", "--quiet", "--filter", label).stdout.split(),
        "networks": engine.docker("network", "ls", "--quiet", "--filter", label).stdout.split(),
    }
    return {kind: names for kind, names in found.items() if names}


@contextmanager
def running(stack: Stack) -> Iterator[None]:
    """`up -d --no-build --wait`; always `down -v`, and then nothing of the project may remain."""
    try:
        result = stack.compose("up", "--detach", "--no-build", "--wait", "--wait-timeout", str(UP_TIMEOUT),
                               check=False)
        if result.returncode != 0:
            logs = stack.compose("logs", "--no-color", "--tail", "25", check=False).stdout
            pytest.fail(f"compose up failed: {result.stderr.strip()[-1500:]}\n{logs[-5000:]}")
        yield
    finally:
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", check=False)
        assert leftovers(stack.project) == {}


def state(container: dict[str, Any]) -> str:
    """`healthy`/`unhealthy`/`starting` for a container with a health check, else its status."""
    health = container["State"].get("Health")
    return str(health["Status"]) if health else str(container["State"]["Status"])


def http_get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def wait_for_status(port: int, path: str, status: int, seconds: float = 60) -> tuple[int, dict[str, Any]]:
    deadline = time.monotonic() + seconds
    while True:
        try:
            answer = http_get(port, path)
        except OSError as exc:
            answer = (0, {"error": str(exc)})
        if answer[0] == status or time.monotonic() > deadline:
            return answer
        time.sleep(1)


def published(container: dict[str, Any]) -> list[tuple[str, str]]:
    """(host address, host port) of every published binding."""
    bindings = container["NetworkSettings"]["Ports"] or {}
    return [(b["HostIp"], b["HostPort"]) for entries in bindings.values() if entries for b in entries]


def processes(container: dict[str, Any]) -> list[int]:
    """Every process of the container, from its pids cgroup (postgres forks a process per task)."""
    procs = hostproc.cgroup_dir(int(container["State"]["Pid"]), "pids") / "cgroup.procs"
    return [int(pid) for pid in procs.read_text().split()]


def test_legacy_stack_comes_up_healthy_and_the_app_reaches_db_and_cache(app_image: str, tmp_path: Path) -> None:
    stack = copy_stack(tmp_path)
    with running(stack):
        containers = {service: stack.container(service) for service in SERVICES}
        # The file gives app and db health checks and cache none: running is all cache can show.
        assert {s: state(c) for s, c in containers.items()} == {"app": "healthy", "db": "healthy",
                                                               "cache": "running"}
        assert containers["app"]["Config"]["Image"] == app_image

        status, body = http_get(stack.ports["app"], "/health")
        # 10 = AuthenticationSASL: the password the file sets is enforced with scram-sha-256.
        assert (status, body) == (200, {"db": "authentication request 10", "cache": "PONG"})

        # Unhardened as written: every port on all addresses, the database and cache answer the host.
        for service in SERVICES:
            assert ("0.0.0.0", str(stack.ports[service])) in published(containers[service]), service
        assert APP.check_postgres(f"postgres://orders@127.0.0.1:{stack.ports['db']}/orders") == \
            "authentication request 10"
        assert APP.check_redis(f"redis://127.0.0.1:{stack.ports['cache']}/0") == "PONG"
        # ... and the app's process runs as root (the image sets no USER, the file no `user:`).
        assert hostproc.status(int(containers["app"]["State"]["Pid"]))["Uid"].split() == ["0"] * 4

        # /health really depends on the cache: without it 503 and why; back to 200 once it returns.
        stack.compose("stop", "cache")
        status, body = http_get(stack.ports["app"], "/health")
        assert status == 503 and body["db"] == "authentication request 10", body
        assert body["cache"].startswith(("gaierror", "ConnectionRefusedError", "TimeoutError", "OSError")), body
        stack.compose("start", "cache")
        assert wait_for_status(stack.ports["app"], "/health", 200) == (
            200, {"db": "authentication request 10", "cache": "PONG"})
