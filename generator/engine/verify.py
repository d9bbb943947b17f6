"""`hardcase verify`: build, start with the generated compose file, prove each control, clean up.

Expectations come from the generator's contract (the saved `.hardcase.yml` answers: limits,
writable paths, secrets, ports) and not from compose.yaml, so a weakened compose file fails the
row it weakened instead of redefining what "pass" means.
"""

from __future__ import annotations

import json
import os
import secrets as token_source
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from generator.core.controls import controls
from generator.core.errors import EngineError, UsageError
from generator.core.yamlio import dump_yaml, load_yaml_file
from generator.engine import docker as engine
from generator.engine import probes
from generator.engine.probe_target import Target

DEFAULT_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
HEALTH_TIMEOUT = 180.0


@dataclass(frozen=True)
class Row:
    id: str
    cis: str
    title: str
    passed: bool
    evidence: str
    proof: str


@dataclass(frozen=True)
class Scorecard:
    service: str
    image: str
    project: str
    rows: list[Row]
    build_seconds: float
    healthy_seconds: float
    image_bytes: int

    @property
    def passed(self) -> bool:
        return bool(self.rows) and all(row.passed for row in self.rows)

    def to_json(self) -> str:
        data = asdict(self)
        data["passed"] = self.passed
        return json.dumps(data, indent=2)


def _parse_bytes(text: str) -> int:
    units = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
    text = str(text).strip().lower().rstrip("b") or "0"
    if text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


@dataclass(frozen=True)
class Project:
    directory: Path
    service_name: str
    service: dict[str, Any]
    compose: dict[str, Any]
    answers: dict[str, Any]

    @property
    def image(self) -> str:
        return str(self.service.get("image") or f"{self.service_name}:verify")


def load_project(directory: Path, service: str | None = None) -> Project:
    compose_path = directory / "compose.yaml"
    if not (directory / "Dockerfile").is_file() or not compose_path.is_file():
        raise UsageError(f"{directory}: needs a Dockerfile and a compose.yaml (run `hardcase new` first)")
    compose = load_yaml_file(compose_path)
    services = compose.get("services") if isinstance(compose, dict) else None
    if not isinstance(services, dict) or not services:
        raise UsageError(f"{compose_path}: no services")
    answers_path = directory / ".hardcase.yml"
    answers = load_yaml_file(answers_path) if answers_path.is_file() else {}
    if not isinstance(answers, dict | None):
        raise UsageError(f"{answers_path}: expected a mapping of answers")
    name = service or str((answers or {}).get("name") or next(iter(services)))
    if name not in services:
        raise UsageError(f"{compose_path}: no service named {name!r}")
    return Project(directory, name, services[name], compose, answers or {})


def _first_from_image(dockerfile: Path) -> str:
    import dockerfile as parser

    for command in parser.parse_file(str(dockerfile)):
        if command.cmd.upper() == "FROM" and command.value:
            return str(command.value[0])
    raise UsageError(f"{dockerfile}: no FROM")


def _secret_files(project: Project, scratch: Path) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Secret values to prove, and compose overrides pointing missing secret files at fresh ones."""
    values: dict[str, bytes] = {}
    overrides: dict[str, Any] = {}
    declared = project.compose.get("secrets") or {}
    for entry in project.service.get("secrets") or []:
        name = entry if isinstance(entry, str) else entry.get("source")
        spec = declared.get(name) or {}
        path = project.directory / str(spec.get("file", f"secrets/{name}"))
        if path.is_file():
            values[name] = path.read_bytes()
            continue
        value = f"hardcase-verify-{token_source.token_hex(16)}".encode()
        generated = scratch / f"secret-{name}"
        generated.write_bytes(value)
        generated.chmod(0o444)
        values[name] = value
        overrides[name] = {"file": str(generated)}
    return values, overrides


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (CI cancel, kill) cleans up like Ctrl-C does."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _wait_healthy(container: str, progress: Callable[[str], None]) -> float:
    started = time.monotonic()
    while True:
        state = engine.inspect("container", container)["State"]
        health = (state.get("Health") or {}).get("Status")
        elapsed = time.monotonic() - started
        progress(f"waiting for healthy: {health or state.get('Status')} ({elapsed:.0f} s)")
        if health == "healthy":
            return elapsed
        if health is None and state.get("Status") == "running" and elapsed >= 5:
            return elapsed  # no health check configured: the healthcheck row will say so
        if state.get("Status") in ("exited", "dead") or health == "unhealthy":
            logs = engine.docker("logs", "--tail", "5", container, check=False)
            tail = (logs.stderr or logs.stdout).strip().splitlines()[-1:] or ["no output"]
            raise EngineError(f"service did not become healthy ({health or state.get('Status')}): {tail[0]}")
        if elapsed > HEALTH_TIMEOUT:
            raise EngineError(f"service not healthy after {HEALTH_TIMEOUT:.0f} s")
        time.sleep(1)


def _container_pids(container: str) -> list[int]:
    output = engine.docker("top", container, "-eo", "pid").stdout.split()
    return [int(p) for p in output[1:] if p.isdigit()]


def _expected(project: Project, compose_service: dict[str, Any]) -> dict[str, Any]:
    answers = project.answers
    limits = ((compose_service.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    user = str(compose_service.get("user", "0")).split(":")[0]
    uid = int(user) if user.isdigit() else 0
    return {
        "memory": _parse_bytes(answers.get("memory") or limits.get("memory") or "0"),
        "cpus": round(float(answers.get("cpus") or limits.get("cpus") or 0) * 1e9),
        "pids": int(answers.get("pids") or limits.get("pids") or 0),
        "writable": list(answers.get("writable_paths") or []),
        "ports": [int(p) for p in answers.get("ports") or []],
        "publish": str(answers.get("publish") or "localhost"),
        "uid": uid,
    }


def verify(directory: Path, *, build: bool = True, ca_bundle: Path | None = DEFAULT_CA_BUNDLE,
           allowed_caps: list[str] | None = None, progress: Callable[[str], None] | None = None,
           keep: bool = False, service: str | None = None) -> Scorecard:
    progress = progress or (lambda message: None)
    project = load_project(directory, service)
    engine.ensure_engine()
    build_seconds = 0.0
    if build:
        progress(f"building {project.image}")
        started = time.monotonic()
        bundle = {"ca_bundle": ca_bundle} if ca_bundle and ca_bundle.is_file() else {}
        engine.build(directory, project.image, bundle)
        build_seconds = time.monotonic() - started
    image = engine.inspect("image", project.image)
    compose_name = f"hcverify-{project.service_name}-{token_source.token_hex(3)}"
    with tempfile.TemporaryDirectory(prefix="hardcase-verify-") as scratch_name, _terminate_as_interrupt():
        scratch = Path(scratch_name)
        secret_values, secret_overrides = _secret_files(project, scratch)
        files = [directory / "compose.yaml"]
        if secret_overrides:
            override = scratch / "secrets.override.yaml"
            override.write_text(dump_yaml({"secrets": secret_overrides}), encoding="utf-8")
            files.append(override)
        try:
            progress("starting the service")
            engine.compose(directory, compose_name, files, "up", "--detach", "--no-build", timeout=300)
            container_id = engine.compose(directory, compose_name, files, "ps", "-q",
                                          project.service_name).stdout.strip()
            if not container_id:
                raise EngineError("compose started no container for the service")
            healthy_seconds = _wait_healthy(container_id, progress)
            container = engine.inspect("container", container_id)
            expected = _expected(project, project.service)
            profile_path = _seccomp_path(project)
            target = Target(
                container=container, image=image, pids=_container_pids(container_id),
                uid=expected["uid"], workdir=str(image["Config"].get("WorkingDir") or "/"),
                writable_paths=expected["writable"], secrets=secret_values,
                ports=expected["ports"] or _published_ports(container), publish=expected["publish"],
                memory_bytes=expected["memory"], nano_cpus=expected["cpus"], pids_limit=expected["pids"],
                seccomp_profile=json.loads(profile_path.read_text(encoding="utf-8")) if profile_path else {},
                probe_image=_first_from_image(directory / "Dockerfile"), allowed_caps=allowed_caps or [],
                image_name=project.image,
            )
            rows = []
            for control in controls():
                if "proof" not in control:
                    continue
                progress(f"proving {control['id']}")
                try:
                    passed, evidence = probes.PROBES[control["id"]](target)
                except (OSError, EngineError, ValueError, KeyError) as exc:
                    passed, evidence = False, f"probe failed: {exc.__class__.__name__}: {exc}"
                rows.append(Row(control["id"], control["cis"], control["title"], passed, evidence, control["proof"]))
        finally:
            if not keep:
                progress("cleaning up")
                engine.compose(directory, compose_name, files, "down", "--volumes", "--remove-orphans",
                               "--timeout", "5", check=False, timeout=120)
    return Scorecard(project.service_name, project.image, compose_name, rows, round(build_seconds, 1),
                     round(healthy_seconds, 1), int(image.get("Size") or 0))


def _seccomp_path(project: Project) -> Path | None:
    for option in project.service.get("security_opt") or []:
        text = str(option)
        if text.startswith("seccomp=") or text.startswith("seccomp:"):
            value = text.split("=", 1)[1] if "=" in text else text.split(":", 1)[1]
            if value != "unconfined":
                return (project.directory / value).resolve()
    return None


def _published_ports(container: dict[str, Any]) -> list[int]:
    bindings = container["HostConfig"].get("PortBindings") or {}
    return sorted(int(key.split("/")[0]) for key in bindings)


def render_text(card: Scorecard) -> str:
    """The scorecard for a terminal; service, image and evidence quote the project and the container's
    own output, so each line is escaped."""
    from generator.core.terminal import printable

    lines = [f"{card.service} ({card.image}): build {card.build_seconds} s, healthy after "
             f"{card.healthy_seconds} s, image {card.image_bytes / 1e6:.1f} MB", ""]
    width = max(len(row.id) for row in card.rows) if card.rows else 10
    for row in card.rows:
        mark = "PASS" if row.passed else "FAIL"
        lines.append(f"{mark}  {row.id:<{width}}  CIS {row.cis:<10}  {row.evidence}")
    total = sum(row.passed for row in card.rows)
    lines += ["", f"{total}/{len(card.rows)} controls proven" + ("" if card.passed else " — verification FAILED")]
    return "\n".join(printable(line) for line in lines) + "\n"


def tty_progress(stream: Any = None) -> Callable[[str], None]:
    stream = stream or sys.stderr
    if not stream.isatty() or os.environ.get("CI"):
        return lambda message: None

    def show(message: str) -> None:
        from generator.core.terminal import printable

        stream.write(f"\r\033[K{printable(message)}")  # the message may name the image: escaped
        stream.flush()

    return show
