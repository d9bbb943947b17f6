"""Apply the policies in force to a project's files (on disk for `policy audit`, in memory for `new`).

Both paths go through `audit_files`, so what `new` refuses to write is exactly what `policy audit`
would report on disk. Seccomp profiles are read only from inside the project (a compose file that
names `/etc/...` or `../x` gets no profile, and the max-syscalls rule says so).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from generator.core.errors import UsageError
from generator.core.yamlio import load_yaml_text
from generator.policy.files import Policy, PolicyError
from generator.policy.rules import PolicyViolation, evaluate

DOCKERFILE = "Dockerfile"
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


def _profile_paths(compose: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    services = compose.get("services")
    for service in services.values() if isinstance(services, Mapping) else []:
        for opt in service.get("security_opt") or [] if isinstance(service, Mapping) else []:
            text = str(opt)
            if text.startswith(("seccomp=", "seccomp:")) and text[8:] != "unconfined":
                found.add(text[8:])
    return found


def _inside(relative: str) -> bool:
    path = PurePosixPath(relative)
    return not path.is_absolute() and ".." not in path.parts


def audit_files(policies: list[Policy], files: Mapping[str, bytes]) -> list[PolicyViolation]:
    """Violations in a project given as {relative path: content}."""
    if not policies:
        return []
    dockerfile = files[DOCKERFILE].decode("utf-8") if DOCKERFILE in files else None
    compose_name = next((name for name in COMPOSE_FILES if name in files), None)
    compose: Mapping[str, Any] | None = None
    profiles: dict[str, Any] = {}
    if compose_name is not None:
        loaded = load_yaml_text(files[compose_name].decode("utf-8"), compose_name)
        compose = loaded if isinstance(loaded, Mapping) else {}
        for relative in _profile_paths(compose):
            key = PurePosixPath(relative).as_posix().removeprefix("./")
            if _inside(relative) and key in files:
                try:
                    profiles[relative] = json.loads(files[key])
                except ValueError:
                    profiles[relative] = None
    return [v for policy in policies for v in evaluate(policy, dockerfile, compose, profiles)]


def read_project(directory: Path) -> dict[str, bytes]:
    """The files of a project that policies look at."""
    if not directory.is_dir():
        raise UsageError(f"{directory}: not a directory")
    files: dict[str, bytes] = {}
    for name in (DOCKERFILE, *COMPOSE_FILES):
        if (directory / name).is_file():
            files[name] = (directory / name).read_bytes()
    if not files:
        raise UsageError(f"{directory}: no Dockerfile or compose file to audit")
    compose_name = next((name for name in COMPOSE_FILES if name in files), None)
    if compose_name is not None:
        loaded = load_yaml_text(files[compose_name].decode("utf-8"), str(directory / compose_name))
        for relative in _profile_paths(loaded if isinstance(loaded, Mapping) else {}):
            target = directory / relative
            if _inside(relative) and target.is_file() and not target.is_symlink():
                files[PurePosixPath(relative).as_posix().removeprefix("./")] = target.read_bytes()
    return files


def refuse_violations(policies: list[Policy], files: Mapping[str, bytes]) -> None:
    """Raise a one-line PolicyError naming the first violated rule and its value, if there is one."""
    violations = audit_files(policies, files)
    if violations:
        first = violations[0]
        more = f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""
        raise PolicyError(f"policy {first.rule} ({first.key}) in {first.policy}: {first.message} "
                          f"at {first.where}{more}; nothing written")


def render_text(violations: list[PolicyViolation], directory: Path) -> str:
    lines = [f"{directory}/{v.line()}" for v in violations]
    lines.append(f"{len(violations)} policy violation(s)" if violations else f"{directory}: complies with the policy")
    return "\n".join(lines) + "\n"


def render_json(violations: list[PolicyViolation]) -> str:
    return json.dumps({"violations": [v.to_dict() for v in violations]}, indent=2) + "\n"
