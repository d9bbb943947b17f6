"""The policy's compose rules, evaluated on the merged compose model (`generator.policy.compose_model`).

Each service of each merge reading is checked; the same finding from two readings is reported once.
security_opt is read as Docker applies it (`security_opts`: the last entry of a kind wins), so
`no-new-privileges:true` followed by `no-new-privileges:false` does not satisfy POL006. A value of the
wrong type (a string where Compose wants a list, `${VAR}` where a literal is needed) cannot satisfy a
requirement, and a service whose definition could not be read whole (an `extends` of a file outside
the project) violates every compose rule the policy has: nothing about it can be vouched for.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from generator.policy.compose_model import ComposeModel
from generator.policy.files import Policy
from generator.policy.host_escapes import UNDECIDED_RULES, host_escape_findings
from generator.policy.model import Finding, image_findings, user_problem
from generator.policy.security_opts import literal, security_opts

PERMITTING_ACTIONS = frozenset({"SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_NOTIFY"})


def _allowed_count(profile: Any) -> int | None:
    """How many system calls a profile permits (None: everything, or a profile too odd to count)."""
    if not isinstance(profile, dict) or profile.get("defaultAction") in PERMITTING_ACTIONS:
        return None
    rules = profile.get("syscalls") or []
    if not isinstance(rules, list):
        return None
    names: set[str] = set()
    for rule in rules:
        if isinstance(rule, dict) and rule.get("action") in PERMITTING_ACTIONS:
            listed = rule.get("names") or []
            if not isinstance(listed, list):
                return None
            names.update(str(n) for n in listed)
            if rule.get("name"):
                names.add(str(rule["name"]))
    return len(names)


def _port_host_ip(port: Any) -> str | None:
    if isinstance(port, dict):
        return str(port["host_ip"]) if port.get("host_ip") else None
    text = str(port)
    if text.startswith("["):
        end = text.find("]")
        return text[1:end] if end > 0 else None
    parts = text.split(":")
    return parts[0] if len(parts) == 3 else None


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _list(service: Mapping[str, Any], key: str) -> list[Any]:
    value = service.get(key)
    return value if isinstance(value, list) else [] if value is None else [value]


def _seccomp_findings(policy: Policy, service: Mapping[str, Any], where: str,
                      profiles: Mapping[str, Any] | None) -> list[Finding]:
    out: list[Finding] = []
    opts = security_opts(service)
    unknown_nnp = opts.unknown_for("no-new-privileges")
    if policy.no_new_privileges and (opts.no_new_privileges is not True or unknown_nnp):
        out.append(Finding("POL006", "security_opt does not end up with no-new-privileges:true "
                           "(Docker applies the last entry)", where, ",".join(unknown_nnp)))
    seccomp_file = opts.seccomp
    if policy.seccomp and (seccomp_file in (None, "unconfined") or opts.unknown_for("seccomp")):
        out.append(Finding("POL008", "no seccomp profile (security_opt seccomp=FILE, the last seccomp entry)",
                           where, seccomp_file or ""))
    if policy.max_syscalls is not None and seccomp_file is not None and seccomp_file != "unconfined":
        if profiles is None or seccomp_file not in profiles:
            out.append(Finding("POL009", f"seccomp profile {seccomp_file} was not available to count", where,
                               seccomp_file))
        else:
            count = _allowed_count(profiles[seccomp_file])
            if count is None or count > policy.max_syscalls:
                shown = "every" if count is None else str(count)
                out.append(Finding("POL009", f"{seccomp_file} allows {shown} system calls "
                                   f"(at most {policy.max_syscalls})", where, shown))
    return out


def _service_findings(policy: Policy, service: Mapping[str, Any], top: Mapping[str, Any], where: str,
                      profiles: Mapping[str, Any] | None) -> list[Finding]:
    out: list[Finding] = []
    if policy.read_only and service.get("read_only") is not True:
        out.append(Finding("POL005", "read_only is not true", where, str(service.get("read_only", ""))))
    drops = [str(cap).upper().removeprefix("CAP_") for cap in _list(service, "cap_drop")]
    if policy.cap_drop_all and ("ALL" not in drops or not isinstance(service.get("cap_drop"), list)):
        out.append(Finding("POL007", "cap_drop does not contain ALL", where, ",".join(drops)))
    out.extend(_seccomp_findings(policy, service, where, profiles))
    if policy.allowed_cap_add is not None:
        allowed = {cap.upper().removeprefix("CAP_") for cap in policy.allowed_cap_add}
        for cap in _list(service, "cap_add"):
            text = literal(cap)
            if text is None or text.upper().removeprefix("CAP_") not in allowed:
                out.append(Finding("POL010", f"cap_add {cap} is not allowed", where, str(cap)))
    if policy.localhost_ports:
        for port in _list(service, "ports"):
            if not _is_loopback(_port_host_ip(port)):
                out.append(Finding("POL011", f"port {port} is not bound to a loopback address", where, str(port)))
    if (policy.uid_min is not None or policy.uid_max is not None) and service.get("user") is not None:
        user = service["user"]
        problem = user_problem(user if isinstance(user, str) else repr(user), policy)
        if problem:
            out.append(Finding("POL004", problem, where, str(user)))
    if "build" not in service and service.get("image"):
        out.extend(image_findings(policy, str(service["image"]), where))
    out.extend(host_escape_findings(policy, service, top, where))
    return out


def _applicable(policy: Policy) -> list[str]:
    """The compose rules this policy applies to every service."""
    rules = [rule for rule, on in (
        ("POL001", policy.allowed_registries is not None), ("POL002", policy.allowed_base_images is not None),
        ("POL004", policy.uid_min is not None or policy.uid_max is not None), ("POL005", policy.read_only),
        ("POL006", policy.no_new_privileges), ("POL007", policy.cap_drop_all), ("POL008", policy.seccomp),
        ("POL009", policy.max_syscalls is not None), ("POL010", policy.allowed_cap_add is not None),
        ("POL011", policy.localhost_ports), ("POL014", policy.pinned_base_images)) if on]
    return rules + [rule for rule in UNDECIDED_RULES if not (rule == "POL015" and policy.allow_privileged)]


def compose_findings(policy: Policy, data: Mapping[str, Any] | ComposeModel, name: str = "compose.yaml",
                     profiles: Mapping[str, Any] | None = None) -> list[Finding]:
    model = data if isinstance(data, ComposeModel) else ComposeModel.single(data, name)
    found: dict[tuple[str, str, str, str], Finding] = {}
    for reason_of, reason in sorted(model.undecided.items()):
        where = f"{model.name} services.{reason_of}" if reason_of else f"{model.name} include"
        for rule in _applicable(policy):
            finding = Finding(rule, f"cannot be checked: {reason}", where, reason)
            found.setdefault((finding.rule, finding.where, finding.message, finding.value), finding)
    for variant in model.variants:
        services = variant.get("services") if isinstance(variant, Mapping) else None
        if not isinstance(services, Mapping):
            continue
        for service_name, service in services.items():
            if isinstance(service, Mapping):
                where = f"{model.name} services.{service_name}"
                for finding in _service_findings(policy, service, variant, where, profiles):
                    found.setdefault((finding.rule, finding.where, finding.message, finding.value), finding)
    return list(found.values())
