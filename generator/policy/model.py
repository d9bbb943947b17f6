"""The records of a policy evaluation and the checks the Dockerfile and compose rules share.

`PolicyViolation` is what callers get; `Finding` is one rule's raw result before the rule ID is
mapped to its policy key. The shared checks (a UID against `uid_range`, an image reference against
the registry and base-image lists) live here so the Dockerfile and the compose evaluation use one
reading of each value.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import asdict, dataclass

from generator.core.mirror import split_registry
from generator.policy.files import Policy

UID_MAX = 2**32 - 2
# A UID as Docker reads one: ASCII digits only. str.isdigit()/int() also accept "²", "١٢" and other
# Unicode digits, which made `USER ²` a traceback instead of a violation.
ASCII_UID = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True)
class PolicyViolation:
    rule: str  # POL001…
    key: str  # the policy key that asks for it
    message: str
    where: str  # "Dockerfile:3", "compose.yaml services.web"
    value: str  # the offending value
    policy: str  # the policy file

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def line(self) -> str:
        return f"{self.where}: {self.rule} ({self.key}): {self.message} [{self.policy}]"


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    where: str
    value: str


def user_problem(user: str, policy: Policy) -> str | None:
    """Why USER (or compose `user:`) does not satisfy `uid_range`, or None when it does. Anything but
    an ASCII-digit UID (a name, a variable, `²`, `1e3`) cannot be checked, so it is a violation."""
    uid_text = user.partition(":")[0]
    if not ASCII_UID.fullmatch(uid_text):
        return f"user {user!r:.60} is not a numeric UID, so it cannot be checked"
    uid = int(uid_text)
    low = policy.uid_min if policy.uid_min is not None else 1
    high = policy.uid_max if policy.uid_max is not None else UID_MAX
    if not low <= uid <= high:
        return f"UID {uid} is outside the allowed range {low}-{high}"
    return None


def split_ref(ref: str) -> tuple[str, str | None]:
    """(name, tag) without the digest."""
    name = ref.partition("@")[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    return (name[:colon], name[colon + 1:]) if colon > slash else (name, None)


def image_findings(policy: Policy, ref: str, where: str) -> list[Finding]:
    out: list[Finding] = []
    if "$" in ref:
        if policy.allowed_registries is not None or policy.allowed_base_images is not None:
            out.append(Finding("POL001", f"base image {ref!r} comes from a build argument and cannot be checked",
                               where, ref))
        return out
    name, tag = split_ref(ref)
    if policy.allowed_registries is not None:
        host = split_registry(name)[0]
        if not any(fnmatch.fnmatch(host, pattern.lower()) for pattern in policy.allowed_registries):
            out.append(Finding("POL001", f"registry {host} of {ref} is not allowed", where, host))
    if policy.allowed_base_images is not None:
        candidates = [name, f"{name}:{tag}" if tag else name, ref]
        if not any(fnmatch.fnmatchcase(c, p) for c in candidates for p in policy.allowed_base_images):
            out.append(Finding("POL002", f"base image {name}{':' + tag if tag else ''} is not allowed", where, ref))
    if policy.pinned_base_images and "@sha256:" not in ref:
        out.append(Finding("POL014", f"base image {ref} is not pinned by digest", where, ref))
    return out
