"""The buildable corpus files in a real engine: before and after `hardcase harden --unsafe-fixes`.

Each of them (a tiny app next to a legacy Dockerfile whose base image comes from the local registry,
see tests/corpus/README.md) is built twice with BuildKit — the original and the hardened file — and
run. Both must answer HTTP 200; the original runs as root, the hardened one as a non-root numeric
user (the image's Config.User and the Uid line of the container's main process in /proc). A
HEALTHCHECK that harden added must turn healthy. Secrets that harden moved into
`RUN --mount=type=secret` are passed the way a user would: the value the original file baked in,
now given as `--secret id=...`. Where HC070 splits the single stage into a build and a runtime stage
(`App.split`), the hardened file must have gained that stage and its image must be smaller.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from generator.engine import docker as engine
from tests.corpus_support import CORPUS, harden_file, parse
from tests.engine_support import require_engine

pytestmark = pytest.mark.engine

CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
SECRET_MOUNT_RE = re.compile(r"--mount=(?=[^\s]*type=secret)[^\s]*?\bid=([A-Za-z0-9_.-]+)")
BUILD_TIMEOUT = 1200
ANSWER_TIMEOUT = 90.0


@dataclass(frozen=True)
class App:
    name: str
    port: int
    split: bool = False  # HC070 moves the toolchain into a build stage


BUILDABLE = [
    App("01-python-flask-inventory", 5000),
    App("04-python-status-page", 8000),
    App("07-node-express-orders", 3000),
    App("11-node-http-healthcheck", 8081),
    App("13-go-hello-single-stage", 8080, split=True),
    App("22-java-httpserver-debian", 8080),
    App("23-ruby-webrick-debian", 4567),
    App("28-php-builtin-debian", 8080),
    App("33-rust-rustc-debian", 7878),
    App("49-python-flask-gcc-slim", 8000, split=True),
]


@pytest.fixture(scope="module", autouse=True)
def _engine() -> None:
    require_engine()


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([engine.docker_binary(), *args], capture_output=True, text=True, timeout=timeout,
                          check=False, env={**os.environ, "DOCKER_BUILDKIT": "1"})


def declared_values(text: str) -> dict[str, str]:
    """ENV and ARG values as the original file declared them (name → last value)."""
    values: dict[str, str] = {}
    for cmd in parse(text):
        if cmd.cmd.upper() == "ENV":
            words = list(cmd.value)
            values.update(zip(words[0::2], words[1::2], strict=False))
        elif cmd.cmd.upper() == "ARG":
            for word in cmd.value:
                name, sep, value = word.partition("=")
                if sep:
                    values[name] = value.strip("'\"")
    return values


def build_secrets(original: str, dockerfile_text: str, secret_dir: Path) -> list[str]:
    """--secret arguments: the CA bundle (for PyPI/npm through the TLS proxy) and every secret the
    file mounts, filled with the value the original baked into ENV/ARG."""
    args = [f"--secret=id=ca_bundle,src={CA_BUNDLE}"] if CA_BUNDLE.is_file() else []
    declared = {name.lower(): value for name, value in declared_values(original).items()}
    for secret_id in sorted(set(SECRET_MOUNT_RE.findall(dockerfile_text)) - {"ca_bundle"}):
        assert secret_id.lower() in declared, (
            f"the file mounts secret {secret_id!r}, which no ENV/ARG of the original declared")
        path = secret_dir / secret_id
        path.write_text(declared[secret_id.lower()], encoding="utf-8")
        args.append(f"--secret=id={secret_id},src={path}")
    return args


def build(context: Path, dockerfile_path: Path, tag: str, secrets: list[str]) -> float:
    started = time.monotonic()
    proc = docker("build", "--progress=plain", "-f", str(dockerfile_path), "-t", tag, *secrets, str(context),
                  timeout=BUILD_TIMEOUT)
    assert proc.returncode == 0, f"build of {dockerfile_path} failed:\n{proc.stderr[-4000:]}"
    return time.monotonic() - started


def inspect(kind: str, name: str) -> dict[str, Any]:
    proc = docker(kind, "inspect", name)
    assert proc.returncode == 0, proc.stderr
    data: list[dict[str, Any]] = json.loads(proc.stdout)
    return data[0]


def wait_for_200(container: str, port: int) -> int:
    """Poll http://127.0.0.1:<published port>/ until it answers 200; returns the status seen."""
    proc = docker("port", container, f"{port}/tcp")
    assert proc.returncode == 0 and proc.stdout.strip(), f"port {port} not published: {proc.stderr}"
    host_port = proc.stdout.strip().splitlines()[0].rsplit(":", 1)[1]
    url = f"http://127.0.0.1:{host_port}/"
    deadline = time.monotonic() + ANSWER_TIMEOUT
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return 200
                last = response.status
        except urllib.error.HTTPError as exc:
            last = exc.code
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = exc
        if not inspect("container", container)["State"]["Running"]:
            break
        time.sleep(0.5)
    logs = docker("logs", "--tail", "40", container)
    pytest.fail(f"{url} did not answer 200 (last: {last!r}); container logs:\n{logs.stdout}{logs.stderr}")


def process_uids(container: str) -> list[int]:
    """Real, effective, saved and filesystem UID of the container's main process, read on the host."""
    pid = inspect("container", container)["State"]["Pid"]
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    (uid_line,) = [line for line in status.splitlines() if line.startswith("Uid:")]
    return [int(field) for field in uid_line.split()[1:]]


def wait_healthy(container: str) -> str:
    deadline = time.monotonic() + ANSWER_TIMEOUT
    status = ""
    while time.monotonic() < deadline:
        status = inspect("container", container)["State"].get("Health", {}).get("Status", "")
        if status in ("healthy", "unhealthy"):
            break
        time.sleep(1)
    return status


@dataclass(frozen=True)
class RunResult:
    seconds: float
    size_mb: float
    user: str
    uids: list[int]
    health: str


def build_and_run(app: App, dockerfile_path: Path, tag: str, secrets: list[str], cleanup: list[list[str]]) -> RunResult:
    seconds = build(CORPUS / app.name, dockerfile_path, tag, secrets)
    cleanup.append(["rmi", "-f", tag])
    image = inspect("image", tag)
    has_healthcheck = bool((image["Config"].get("Healthcheck") or {}).get("Test"))
    # Same probe as the image's HEALTHCHECK, run every second so the test need not wait 30 s.
    health_args = ["--health-interval=1s", "--health-start-period=0s"] if has_healthcheck else []
    proc = docker("run", "-d", "-p", f"127.0.0.1::{app.port}", *health_args, tag)
    assert proc.returncode == 0, f"docker run {tag} failed: {proc.stderr}"
    container = proc.stdout.strip()
    cleanup.append(["rm", "-f", "-v", container])
    assert wait_for_200(container, app.port) == 200
    health = wait_healthy(container) if has_healthcheck else "none"
    return RunResult(seconds, image["Size"] / 1e6, str(image["Config"].get("User") or ""), process_uids(container),
                     health)


@pytest.mark.parametrize("app", BUILDABLE, ids=[a.name for a in BUILDABLE])
def test_original_and_hardened_build_answer_and_hardened_runs_non_root(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original_path = CORPUS / app.name / "Dockerfile"
    original = original_path.read_text(encoding="utf-8")
    assert re.search(rf"^EXPOSE\b.*\b{app.port}\b", original, re.MULTILINE), f"{app.name} does not EXPOSE {app.port}"
    hardened_path = tmp_path / "Dockerfile.hardened"
    hardened = harden_file(original_path, hardened_path)
    stages_before, stages_after = (sum(1 for c in parse(t) if c.cmd.upper() == "FROM") for t in (original, hardened))
    assert (stages_after == stages_before + 1) == app.split, (
        f"{app.name}: {stages_before} -> {stages_after} stages, split expected: {app.split}\n{hardened}")
    secret_dir = tmp_path / "secrets"
    secret_dir.mkdir()
    token = uuid.uuid4().hex[:10]
    cleanup: list[list[str]] = []
    try:
        before = build_and_run(app, original_path, f"hardcase-corpus-test/{app.name}:original-{token}",
                               build_secrets(original, original, secret_dir), cleanup)
        after = build_and_run(app, hardened_path, f"hardcase-corpus-test/{app.name}:hardened-{token}",
                              build_secrets(original, hardened, secret_dir), cleanup)
    finally:
        for args in reversed(cleanup):
            docker(*args)

    assert before.uids[1] == 0, f"the original was expected to run as root, ran as {before.uids}"
    assert re.fullmatch(r"[0-9]+(:[0-9]+)?", after.user), f"hardened Config.User {after.user!r} is not numeric"
    assert int(after.user.split(":")[0]) != 0, f"hardened Config.User is {after.user!r}"
    assert all(uid != 0 for uid in after.uids), f"hardened main process UIDs {after.uids}"
    assert after.health in ("healthy", "none"), f"the hardened image's HEALTHCHECK ended {after.health!r}"
    if app.split:
        assert after.size_mb < before.size_mb, (
            f"split image {after.size_mb:.0f} MB is not smaller than the original {before.size_mb:.0f} MB")
    with capsys.disabled():
        print(f"\n[corpus-engine] {app.name}: original {before.size_mb:.0f} MB built in {before.seconds:.1f} s, "
              f"uid {before.uids[1]}, HTTP 200 | hardened {after.size_mb:.0f} MB built in {after.seconds:.1f} s, "
              f"USER {after.user}, uid {after.uids[1]}, HTTP 200, healthcheck {after.health}")
