"""From validated answers to the data the templates render: image refs, commands, limits.

Everything a template needs is computed here, in Python, so templates only place values and never
make decisions that would need testing in Jinja.
"""

from __future__ import annotations

import json
from typing import Any

from generator import __version__
from generator.core import catalog, mirror
from generator.core.controls import controls
from generator.profiles import apparmor, seccomp
from generator.scaffold.answers import MEMORY_MIN_MB, Answers

HEALTHCHECK_PATH = "/healthz"
# The app listens on all of the container's own interfaces so the published port reaches it; what
# the host exposes is decided by compose (127.0.0.1 by default).
IN_CONTAINER_ALL_INTERFACES = "0.0.0.0"  # noqa: S104
# gunicorn's worker heartbeat files live on the /tmp tmpfs because the root filesystem is read-only.
WORKER_TMP = "/tmp"  # noqa: S108
SECCOMP_FILE = "seccomp.json"
TMPFS_SIZE = "64m"
# Opt-in only: BuildKit pulls this frontend image from Docker Hub at build time (fails offline).
SYNTAX_LINE = "# syntax=docker/dockerfile:1.19"


def _healthcheck(answers: Answers, interpreter: str | None, port: int) -> list[str]:
    url = f"http://127.0.0.1:{port}{HEALTHCHECK_PATH}"
    if answers.language == "python":
        assert interpreter
        return [interpreter, "-c", f"import urllib.request; urllib.request.urlopen('{url}', timeout=3)"]
    if answers.language == "node":
        assert interpreter
        script = (
            f"require('http').get('{url}', (r) => process.exit(r.statusCode === 200 ? 0 : 1))"
            ".on('error', () => process.exit(1))"
        )
        return [interpreter, "-e", script]
    return ["/app/healthcheck", url]


def _entrypoint(answers: Answers, interpreter: str | None, port: int) -> list[str]:
    if answers.language == "python":
        assert interpreter
        if answers.framework == "fastapi":
            return [interpreter, "-m", "uvicorn", "app.main:app", "--host", IN_CONTAINER_ALL_INTERFACES,
                    "--port", str(port), "--no-server-header"]
        return [interpreter, "-m", "gunicorn", "--bind", f"{IN_CONTAINER_ALL_INTERFACES}:{port}", "--workers", "2",
                "--worker-tmp-dir", WORKER_TMP, "--no-control-socket", "app.main:app"]
    if answers.language == "node":
        assert interpreter
        return [interpreter, "src/server.js"]
    return ["/app/server"]


def _half(quantity: str) -> str:
    """A reservation of a quarter of the limit, so the scheduler keeps headroom without overcommitting;
    never below the engine's minimum reservation (6 MiB, like the limit) nor above the limit itself."""
    number, unit = int(quantity[:-1]), quantity[-1]
    if unit == "g":
        number, unit = number * 1024, "m"
    return f"{min(number, max(number // 4, MEMORY_MIN_MB))}{unit}"


def _json(value: Any) -> str:
    """JSON for exec-form commands: readable (no HTML escaping), valid in a Dockerfile and in YAML."""
    return json.dumps(value, ensure_ascii=False)


def template_context(answers: Answers) -> dict[str, Any]:
    images = catalog.stack_images(answers.language, answers.runtime_version, answers.flavour)
    port = answers.ports[0]
    profile = seccomp.render_profile(answers.language)
    build_ref = mirror.apply(images.build.pinned, answers.registry_mirror)
    runtime_ref = mirror.apply(images.runtime.pinned, answers.registry_mirror)
    return {
        "version": __version__,
        "language": answers.language,
        "framework": answers.framework,
        "runtime_version": answers.runtime_version,
        "flavour": answers.flavour,
        "with_app": answers.with_app,
        "syntax_line": SYNTAX_LINE if answers.syntax_line else "",
        "build_image": build_ref,
        "runtime_image": runtime_ref,
        "runtime_image_ref": mirror.apply(images.runtime.ref, answers.registry_mirror),
        "interpreter": images.interpreter or "",
        "uid": images.uid,
        "port": port,
        "ports": list(answers.ports),
        "publish": answers.publish,
        "bind_address": {"localhost": "127.0.0.1:", "all": "", "none": ""}[answers.publish],
        "network": "backend" if answers.publish == "none" else "frontend",
        "writable_paths": [{"path": p, "size": TMPFS_SIZE} for p in answers.writable_paths],
        "secrets": [{"name": s, "env": f"{s.upper()}_FILE"} for s in answers.secrets],
        "secret_env_names": [f"{s.upper()}_FILE" for s in answers.secrets],
        "memory": answers.memory,
        "memory_reservation": _half(answers.memory),
        "cpus": answers.cpus,
        "cpus_reservation": f"{max(float(answers.cpus) / 4, 0.01):.2f}",
        "pids": answers.pids,
        "healthcheck": _healthcheck(answers, images.interpreter, port),
        "healthcheck_json": _json(_healthcheck(answers, images.interpreter, port)),
        "compose_healthcheck_json": _json(["CMD", *_healthcheck(answers, images.interpreter, port)]),
        "entrypoint_json": _json(_entrypoint(answers, images.interpreter, port)),
        "healthcheck_path": HEALTHCHECK_PATH,
        "entrypoint": _entrypoint(answers, images.interpreter, port),
        "seccomp_file": SECCOMP_FILE,
        "seccomp_profile": profile.rstrip("\n"),
        "seccomp_count": len(seccomp.allowed_syscalls(answers.language)),
        "apparmor": answers.apparmor,
        "apparmor_name": apparmor.default_name(answers.name),
        "apparmor_file": apparmor.FILE_NAME,
        "apparmor_profile": apparmor.render(apparmor.default_name(answers.name), list(answers.writable_paths),
                                            answers.name, __version__).rstrip("\n") if answers.apparmor else "",
        "controls": controls(),
    }
