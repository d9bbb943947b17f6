"""Apply the policies in force to a project's files (on disk for `policy audit`, in memory for `new`).

Both paths go through `audit_files`, so what `new` refuses to write is exactly what `policy audit`
would report on disk. The compose files are the ones `docker compose` would load: the `-f` set when
given, else `COMPOSE_FILE` from the project's `.env`, else the first of `compose.yaml`,
`compose.yml`, `docker-compose.yml`, `docker-compose.yaml` plus the first `compose.override.*` /
`docker-compose.override.*` beside it, merged as Compose merges them (`compose_model`). Every file
is read only from inside the project: a compose file, an `extends`/`include` target or a seccomp
profile named as `/etc/...` or `../x` is not read (the rules it would feed report that they could
not check it), and neither is a symlink that leads out of the project.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from generator.core.errors import UsageError
from generator.policy import compose_model
from generator.policy.files import Policy, PolicyError
from generator.policy.rules import PolicyViolation, evaluate
from generator.policy.security_opts import security_opts

DOCKERFILE = "Dockerfile"
ENV_FILE = ".env"
# compose-go's DefaultFileNames and DefaultOverrideFileNames, in its order of preference.
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = ("compose.override.yml", "compose.override.yaml", "docker-compose.override.yml",
                  "docker-compose.override.yaml")


def _inside(relative: str) -> str | None:
    """RELATIVE as a normal project-relative path, or None when it is absolute or leaves the project."""
    if not relative or relative.startswith("/") or "\0" in relative:
        return None
    normal = posixpath.normpath(relative)
    return None if normal == ".." or normal.startswith("../") else normal


def _env_compose_files(content: bytes | None) -> list[str] | None:
    """COMPOSE_FILE from the project's .env (Compose reads it there too), split on its separator."""
    if content is None:
        return None
    values: dict[str, str] = {}
    for line in content.decode("utf-8", "replace").splitlines():
        match = re.fullmatch(r"\s*(?:export\s+)?(COMPOSE_FILE|COMPOSE_PATH_SEPARATOR)\s*=\s*(.*?)\s*", line)
        if match:
            value = match.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            values[match.group(1)] = value
    if "COMPOSE_FILE" not in values:
        return None
    if "$" in values["COMPOSE_FILE"]:
        raise UsageError(f"{ENV_FILE}: COMPOSE_FILE {values['COMPOSE_FILE']!r:.80} depends on variables; "
                         "name the compose files with -f")
    names = [name for name in values["COMPOSE_FILE"].split(values.get("COMPOSE_PATH_SEPARATOR") or ":") if name]
    inside = [_inside(name) for name in names]
    if not names or None in inside:
        raise UsageError(f"{ENV_FILE}: COMPOSE_FILE {values['COMPOSE_FILE']!r:.80} names a file outside the project")
    return [name for name in inside if name is not None]


def compose_names(files: Mapping[str, bytes], explicit: Sequence[str] = ()) -> list[str]:
    """The compose files `docker compose` would load for the project (project-relative, in order)."""
    if explicit:
        return list(explicit)
    from_env = _env_compose_files(files.get(ENV_FILE))
    if from_env is not None:
        return from_env
    base = next((name for name in COMPOSE_FILES if name in files), None)
    if base is None:
        return []
    override = next((name for name in OVERRIDE_FILES if name in files), None)
    return [base] if override is None else [base, override]


def compose_arguments(directory: Path, paths: Sequence[Path]) -> list[str]:
    """`-f` paths (absolute, or relative to DIRECTORY) as project-relative names; each must be a file
    inside the project."""
    names: list[str] = []
    root = directory.resolve()
    for path in paths:
        target = (path if path.is_absolute() else directory / path).resolve()
        if not target.is_relative_to(root):
            raise UsageError(f"{path}: not inside the project {directory}")
        if not target.is_file():
            raise UsageError(f"{path}: no such compose file")
        names.append(target.relative_to(root).as_posix())
    return names


def _profile_paths(model: compose_model.ComposeModel) -> set[str]:
    found: set[str] = set()
    for variant in model.variants:
        services = variant.get("services")
        for service in services.values() if isinstance(services, Mapping) else []:
            if isinstance(service, Mapping):
                found.update(value for value in security_opts(service).seccomp_values if value != "unconfined")
    return found


def _profile_key(base: str, relative: str) -> str | None:
    """Where a seccomp profile named in compose lives (relative to the project directory, which is the
    first compose file's directory), or None when outside the project."""
    if relative.startswith("/"):
        return None
    return _inside(posixpath.join(base, relative) if base else relative)


def _model(files: Mapping[str, bytes], names: Sequence[str]) -> compose_model.ComposeModel:
    def read(relative: str) -> bytes | None:
        return files.get(relative)

    return compose_model.load(read, names)


def audit_files(policies: list[Policy], files: Mapping[str, bytes],
                compose_files: Sequence[str] = ()) -> list[PolicyViolation]:
    """Violations in a project given as {relative path: content}; COMPOSE_FILES as `-f` would name them."""
    if not policies:
        return []
    dockerfile: str | None = None
    if DOCKERFILE in files:
        try:
            dockerfile = files[DOCKERFILE].decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{DOCKERFILE}: not UTF-8 text") from None
    names = compose_names(files, compose_files)
    model = _model(files, names) if names else None
    profiles: dict[str, Any] = {}
    base = posixpath.dirname(names[0]) if names else ""
    for relative in _profile_paths(model) if model is not None else set():
        key = _profile_key(base, relative)
        if key is not None and key in files:
            try:
                profiles[relative] = json.loads(files[key])
            except ValueError:  # also not UTF-8: a profile that is not JSON cannot be counted
                profiles[relative] = None
    return [v for policy in policies for v in evaluate(policy, dockerfile, model, profiles)]


def read_project(directory: Path, compose_files: Sequence[str] = ()) -> dict[str, bytes]:
    """The files of a project that policies look at (COMPOSE_FILES: `-f` names, see `compose_arguments`)."""
    if not directory.is_dir():
        raise UsageError(f"{directory}: not a directory")
    root = directory.resolve()
    files: dict[str, bytes] = {}

    def read(relative: str) -> bytes | None:
        if relative in files:
            return files[relative]
        target = (directory / relative).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return None
        try:
            files[relative] = target.read_bytes()
        except OSError as exc:
            raise UsageError(f"{directory / relative}: cannot read ({exc.strerror or type(exc).__name__})") from None
        return files[relative]

    for name in (DOCKERFILE, ENV_FILE, *COMPOSE_FILES, *OVERRIDE_FILES, *compose_files):
        read(name)
    names = compose_names(files, compose_files)
    if DOCKERFILE not in files and not names:
        raise UsageError(f"{directory}: no Dockerfile or compose file to audit")
    if names:
        model = compose_model.load(read, names)
        base = posixpath.dirname(names[0])
        for relative in _profile_paths(model):
            key = _profile_key(base, relative)
            if key is not None and not (directory / key).is_symlink():
                read(key)
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
    """One line per violation; each line quotes the project's files, so it is escaped for the terminal."""
    from generator.core.terminal import printable

    lines = [f"{directory}/{v.line()}" for v in violations]
    lines.append(f"{len(violations)} policy violation(s)" if violations else f"{directory}: complies with the policy")
    return "\n".join(printable(line) for line in lines) + "\n"


def render_json(violations: list[PolicyViolation]) -> str:
    return json.dumps({"violations": [v.to_dict() for v in violations]}, indent=2) + "\n"
