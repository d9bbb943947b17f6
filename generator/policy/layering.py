"""Layering a project policy on the org's: a project may tighten every key, never loosen one.

The org policy (`HARDCASE_POLICY`) and a project's `hardcase-policy.yaml` are both enforced, which
already keeps most rules strict; but some keys are not rules that can be enforced twice (the
registry mirror `new` pulls through: the last one wins) and an `allow` or a wider range in a project
file reads as permission. So a project file is checked against the org's key by key, by the `merge`
semantics the schema gives each key, and any loosening is an error naming the key. Only keys the
project sets are compared (a key it leaves out inherits the org's value); an org key left out has the
schema's `default` (for `allow.*`: nothing allowed) or, without one, constrains nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

GLOB_META = re.compile(r"[?\[\]]")


def _covered(pattern: str, org: list[str]) -> bool:
    """Whether everything PATTERN matches is matched by one of the ORG patterns. Sound for patterns
    made of literals and `*`; a pattern with `?` or `[...]` must equal an org pattern."""
    if pattern in org:
        return True
    if GLOB_META.search(pattern):
        return False
    return any(not GLOB_META.search(wide) and fnmatchcase(pattern, wide) for wide in org)


def _normal(key: str, values: list[str]) -> list[str]:
    if key in ("allowed_cap_add", "allow.capabilities"):
        return [value.upper().removeprefix("CAP_") for value in values]
    if key == "allowed_registries":
        return [value.lower() for value in values]
    return list(values)


def _problem(key: str, merge: str, org: Any, project: Any) -> str | None:
    if merge in ("union",) or org is None:
        return None
    if merge == "same" and project != org:
        return f"{key}: {project!r} replaces the org's {org!r}"
    if merge == "at_least" and project < org:
        return f"{key}: {project} is below the org's {org}"
    if merge == "at_most" and project > org:
        return f"{key}: {project} is above the org's {org}"
    if merge == "require" and org is True and project is not True:
        return f"{key}: false drops a requirement the org sets"
    if merge == "forbid" and org is not True and project is True:
        return f"{key}: true allows what the org does not"
    if merge == "subset":
        wider = [value for value in _normal(key, project) if not _covered(value, _normal(key, org))]
        if wider:
            return f"{key}: {', '.join(map(repr, wider))} not allowed by the org"
    return None


def _walk(org: Mapping[str, Any], project: Mapping[str, Any], spec: Mapping[str, Any],
          prefix: str) -> Iterator[str]:
    for key, value in project.items():
        entry = spec.get(key)
        if entry is None:
            continue
        name = f"{prefix}{key}"
        org_value = org.get(key, entry.get("default")) if isinstance(org, Mapping) else entry.get("default")
        if entry["type"] == "map":
            yield from _walk(org_value if isinstance(org_value, Mapping) else {}, value, entry["keys"], f"{name}.")
            continue
        if "merge" not in entry:
            raise AssertionError(f"policy schema: {name} has no merge semantics")  # a schema bug, not input
        problem = _problem(name, entry["merge"], org_value, value)
        if problem:
            yield problem


def loosening(org: Mapping[str, Any], project: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    """One line per key where PROJECT (a valid policy) loosens or replaces ORG (also valid)."""
    return list(_walk(org, project, spec, ""))
