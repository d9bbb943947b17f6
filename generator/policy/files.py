"""Org policy: what a platform team allows, read from `hardcase-policy.yaml` and checked against a schema.

Where a policy comes from (`discover`): `--policy FILE` alone when given; otherwise the org default
named by `HARDCASE_POLICY` *and* the project's own `hardcase-policy.yaml`, both enforced. A project
file can add rules but never loosen the org's: dropping a file into a repository must not be a way
out of the standard (`generator.policy.layering` checks each key by its `merge` rule; a loosening
is an error, not a note). The schema lives in `data/policy-schema.yaml`, so `hardcase policy check`, the
docs and the rule IDs all read the same facts. Evaluation is in `generator.policy.rules`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from generator.core.errors import ExitCode, HardcaseError, UsageError
from generator.core.resources import DATA_DIR
from generator.core.yamlio import load_data_file, load_yaml_file

POLICY_FILE = "hardcase-policy.yaml"
POLICY_ENV = "HARDCASE_POLICY"
MIRROR_RE = re.compile(r"^[a-z0-9.-]+(:[0-9]{1,5})?(/[a-z0-9._-]+)*$")
INSTRUCTIONS = frozenset({"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
                          "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"})


class PolicyError(HardcaseError):
    """A request or a rendering violates the policy: nothing was written."""

    exit_code = ExitCode.FINDINGS


@dataclass(frozen=True)
class Policy:
    """A validated policy. `None` / empty means "not constrained" for that key."""

    source: Path
    allowed_registries: tuple[str, ...] | None = None
    allowed_base_images: tuple[str, ...] | None = None
    registry_mirror: str = ""
    required_labels: tuple[str, ...] = ()
    uid_min: int | None = None
    uid_max: int | None = None
    read_only: bool = False
    no_new_privileges: bool = False
    cap_drop_all: bool = False
    seccomp: bool = False
    max_syscalls: int | None = None
    localhost_ports: bool = False
    pinned_base_images: bool = False
    allowed_cap_add: tuple[str, ...] | None = None
    banned_instructions: tuple[str, ...] = ()
    banned_packages: tuple[str, ...] = ()
    allow_privileged: bool = False
    allow_host_namespaces: tuple[str, ...] = ()
    allow_host_paths: tuple[str, ...] = ()
    allow_devices: tuple[str, ...] = ()
    allow_capabilities: tuple[str, ...] = ()
    allow_unconfined: tuple[str, ...] = ()


@cache
def schema() -> dict[str, Any]:
    data: dict[str, Any] = load_data_file(DATA_DIR / "policy-schema.yaml")
    return data


@dataclass(frozen=True)
class RuleInfo:
    id: str  # POL001…, stable, never reused
    key: str  # dotted policy key
    help: str


def rules() -> list[RuleInfo]:
    """Every policy rule, by ID, read from the schema."""
    found: list[RuleInfo] = []

    def walk(spec: dict[str, Any], prefix: str) -> None:
        for key, entry in spec.items():
            if "rule" in entry:
                found.append(RuleInfo(entry["rule"], prefix + key, entry["help"]))
            if entry["type"] == "map":
                walk(entry["keys"], f"{prefix}{key}.")

    walk(schema(), "")
    return sorted(found, key=lambda rule: rule.id)


def rule_keys() -> dict[str, str]:
    """Rule ID → dotted policy key (e.g. POL005 → require.read_only)."""
    return {rule.id: rule.key for rule in rules()}


def rule_table() -> str:
    """The Markdown table of rules the README carries (a test keeps them equal)."""
    rows = [f"| {rule.id} | `{rule.key}` | {rule.help} |" for rule in rules()]
    return "\n".join(["| rule | policy key | what it requires |", "|---|---|---|", *rows]) + "\n"


def _type_problem(value: Any, kind: str) -> str | None:
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "strs": isinstance(value, list) and all(isinstance(item, str) for item in value),
        "map": isinstance(value, dict),
    }[kind]
    if ok:
        return None
    expected = {"str": "a string", "int": "an integer", "bool": "true or false", "strs": "a list of strings",
                "map": "a mapping"}[kind]
    return f"expected {expected}, got {type(value).__name__} {value!r:.40}"


def schema_problems(raw: Any, spec: dict[str, Any] | None = None, prefix: str = "") -> list[str]:
    """One line per unknown key or wrongly typed value (`key: problem`)."""
    spec = schema() if spec is None else spec
    if not isinstance(raw, dict):
        return [f"{prefix.rstrip('.') or 'policy'}: expected a mapping of policy keys"]
    problems: list[str] = []
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if key not in spec:
            problems.append(f"{name}: unknown key (known: {', '.join(spec)})")
            continue
        problem = _type_problem(value, spec[key]["type"])
        if problem:
            problems.append(f"{name}: {problem}")
        elif spec[key]["type"] == "map":
            problems.extend(schema_problems(value, spec[key]["keys"], f"{name}."))
    return problems


def value_problems(raw: dict[str, Any]) -> list[str]:
    """Values of the right type that still make no sense (checked only once the types are right)."""
    problems: list[str] = []
    if raw.get("version", 1) != 1:
        problems.append(f"version: {raw['version']} is not supported (only 1)")
    mirror = raw.get("registry_mirror", "")
    if mirror and not MIRROR_RE.fullmatch(mirror):
        problems.append(f"registry_mirror: {mirror!r} must look like HOST[:PORT][/PREFIX]")
    uid = raw.get("uid_range", {})
    if "min" in uid and uid["min"] < 1:
        problems.append("uid_range.min: must be at least 1 (UID 0 is root)")
    if "min" in uid and "max" in uid and uid["min"] > uid["max"]:
        problems.append(f"uid_range: min {uid['min']} is above max {uid['max']}")
    for name in raw.get("banned_instructions", []):
        if name.upper() not in INSTRUCTIONS:
            problems.append(f"banned_instructions: {name!r} is not a Dockerfile instruction")
    if raw.get("require", {}).get("max_syscalls", 1) < 1:
        problems.append("require.max_syscalls: must be at least 1")
    allow_spec = schema()["allow"]["keys"]
    for key, values in raw.get("allow", {}).items():
        known = allow_spec[key].get("values")
        for value in values if known and isinstance(values, list) else []:
            if value not in known:
                problems.append(f"allow.{key}: {value!r} is not one of {', '.join(known)}")
    for pattern in raw.get("allow", {}).get("host_paths", []):
        if not pattern.startswith(("/", "~", ".", "*")):
            problems.append(f"allow.host_paths: {pattern!r} must be a host path pattern (/..., ~..., ../...)")
    return problems


def check_file(path: Path) -> list[str]:
    """Every problem of a policy file, one line each; [] when it is a valid policy."""
    raw = load_yaml_file(path)
    if raw is None:
        return []
    problems = schema_problems(raw)
    return problems or value_problems(raw)


def _tuple(raw: dict[str, Any], key: str) -> tuple[str, ...] | None:
    return tuple(raw[key]) if key in raw else None


def load(path: Path) -> Policy:
    problems = check_file(path)
    if problems:
        more = f" (+{len(problems) - 1} more; see `hardcase policy check {path}`)" if len(problems) > 1 else ""
        raise UsageError(f"policy {path}: {problems[0]}{more}")
    raw = load_yaml_file(path) or {}
    require = raw.get("require", {})
    uid = raw.get("uid_range", {})
    allow = raw.get("allow", {})
    return Policy(
        source=path,
        allowed_registries=_tuple(raw, "allowed_registries"),
        allowed_base_images=_tuple(raw, "allowed_base_images"),
        registry_mirror=raw.get("registry_mirror", ""),
        required_labels=tuple(raw.get("required_labels", ())),
        uid_min=uid.get("min"),
        uid_max=uid.get("max"),
        read_only=require.get("read_only", False),
        no_new_privileges=require.get("no_new_privileges", False),
        cap_drop_all=require.get("cap_drop_all", False),
        seccomp=require.get("seccomp", False),
        max_syscalls=require.get("max_syscalls"),
        localhost_ports=require.get("localhost_ports", False),
        pinned_base_images=require.get("pinned_base_images", False),
        allowed_cap_add=_tuple(raw, "allowed_cap_add"),
        banned_instructions=tuple(name.upper() for name in raw.get("banned_instructions", ())),
        banned_packages=tuple(raw.get("banned_packages", ())),
        allow_privileged=allow.get("privileged", False),
        allow_host_namespaces=tuple(allow.get("host_namespaces", ())),
        allow_host_paths=tuple(allow.get("host_paths", ())),
        allow_devices=tuple(allow.get("devices", ())),
        allow_capabilities=tuple(cap.upper().removeprefix("CAP_") for cap in allow.get("capabilities", ())),
        allow_unconfined=tuple(allow.get("unconfined", ())),
    )


def _project_file(start: Path, upward: bool) -> Path | None:
    start = start.resolve()
    for directory in [start, *start.parents] if upward else [start]:
        candidate = directory / POLICY_FILE
        if candidate.is_file():
            return candidate
    return None


def discover(start: Path, explicit: Path | None = None, upward: bool = True) -> list[Policy]:
    """The policies in force for a project at `start` (see the module docstring for the order).

    A project policy layered on the org's may only tighten it (each key's `merge` in the schema):
    one that loosens or replaces an org value (a wider uid_range, another registry_mirror, a
    requirement set to false, an `allow` the org does not grant) is refused with one line naming
    the key, never silently half-applied.
    """
    if explicit is not None:
        return [load(explicit)]
    org = os.environ.get(POLICY_ENV)
    org_path = Path(org) if org else None
    project = _project_file(start, upward)
    if project is not None and org_path is not None and project.resolve() == org_path.resolve():
        project = None
    policies = [load(path) for path in (org_path, project) if path is not None]
    if org_path is not None and project is not None:
        from generator.policy.layering import loosening

        problems = loosening(load_yaml_file(org_path) or {}, load_yaml_file(project) or {}, schema())
        if problems:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            raise UsageError(f"policy {project}: {problems[0]}{more}; a project policy may only tighten "
                             f"the org policy {org_path}")
    return policies


def registry_mirror(policies: list[Policy]) -> str | None:
    """The mirror the policies ask for (the most specific policy, i.e. the last, wins)."""
    mirrors = [p.registry_mirror for p in policies if p.registry_mirror]
    return mirrors[-1] if mirrors else None
