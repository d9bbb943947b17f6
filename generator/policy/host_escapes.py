"""Host-level escapes in a compose service (POL015-POL020), forbidden unless the policy's `allow` lists them.

These rules apply under every policy, even one that never mentions them: a service that runs
privileged, shares a host namespace, bind-mounts the Docker socket or `/`, maps host devices, adds a
capability Docker does not grant by default, or switches a confinement off has left the container,
whatever else the policy checks. `allow.*` is the only way to permit one, and a project policy cannot
add to the org's `allow` (see `generator.policy.layering`).

Values are read as Docker and Compose read them (`security_opts` for security_opt); a value that
cannot be known before the deployment (`${PRIV:-true}`, a non-literal type, a host path through a
variable, `volumes_from` another container) is a violation: "could not tell" does not pass.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterator, Mapping
from typing import Any

from generator.policy.files import Policy, schema
from generator.policy.model import Finding
from generator.policy.security_opts import literal, security_opts

NAMESPACES = (("pid", "pid"), ("ipc", "ipc"), ("network_mode", "network"), ("userns_mode", "userns"),
              ("uts", "uts"), ("cgroup", "cgroup"))


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _allow_data(key: str, field: str) -> list[str]:
    values: list[str] = schema()["allow"]["keys"][key][field]
    return values


def _matches(value: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


def sensitive_reason(path: str) -> str | None:
    """Why a host path is sensitive (what it reaches), or None. Relative paths are relative to the
    project root (see `compose_model.rebase`)."""
    if path.startswith("~"):
        return "a home directory"
    if path.startswith("."):
        normal = posixpath.normpath(path)
        return "a path outside the project" if normal == ".." or normal.startswith("../") else None
    if not path.startswith("/"):
        return None
    normal = re.sub("/+", "/", posixpath.normpath(path))
    if normal == "/":
        return "the host's root filesystem"
    if posixpath.basename(normal) in _allow_data("host_paths", "sockets"):
        return "a container engine socket"
    for root in _allow_data("host_paths", "sensitive"):
        if normal == root or normal.startswith(root + "/"):
            return f"host {root}"
        if root.startswith(normal + "/"):
            return f"host {normal}, which holds {root}"
    return None


def _mounts(service: Mapping[str, Any], top: Mapping[str, Any]) -> Iterator[tuple[str | None, str]]:
    """(host path or None when unknowable, how it is written) for each host path the service mounts."""
    volumes = service.get("volumes")
    named = _section(top, "volumes")
    for entry in volumes if isinstance(volumes, list) else ([] if volumes is None else [volumes]):
        if isinstance(entry, str):
            source = literal(entry.split(":")[0]) if ":" in entry else ""
            if source is None:
                yield None, entry
            elif source.startswith(("/", ".", "~")):
                yield source, entry
            elif source:
                yield from _named_volume(source, named)
        elif isinstance(entry, Mapping):
            kind, source = literal(entry.get("type", "volume")), entry.get("source")
            if kind == "bind":
                text = literal(source)
                yield text, str(source)
            elif kind == "npipe":
                yield None, f"npipe {source}"
            elif kind == "volume" and isinstance(source, str):
                yield from _named_volume(source, named)
            elif kind is None:
                yield None, str(entry.get("type"))
        else:
            yield None, str(entry)
    for kind in ("secrets", "configs"):
        section = _section(top, kind)
        for ref in service.get(kind) or [] if isinstance(service.get(kind), list) else []:
            name = ref.get("source") if isinstance(ref, Mapping) else ref
            item = section.get(name) if isinstance(name, str) else None
            if isinstance(item, Mapping) and "file" in item:
                yield literal(item["file"]), f"{kind[:-1]} {name} file {item['file']}"
    for source in service.get("volumes_from") or [] if isinstance(service.get("volumes_from"), list) else []:
        if not isinstance(source, str) or source.startswith("container:") or "$" in source:
            yield None, f"volumes_from {source}"


def _named_volume(name: str, named: Mapping[str, Any]) -> Iterator[tuple[str | None, str]]:
    """A named volume that the local driver binds to a host path (`driver_opts: {o: bind, device: /}`)."""
    volume = named.get(name)
    options = volume.get("driver_opts") if isinstance(volume, Mapping) else None
    if isinstance(options, Mapping) and "device" in options:
        flags = literal(options.get("o", "")) or ""
        if "bind" in flags.split(",") or literal(options.get("o", "")) is None:
            yield literal(options["device"]), f"volume {name} (device {options['device']})"


def _host_paths(policy: Policy, service: Mapping[str, Any], top: Mapping[str, Any], where: str) -> list[Finding]:
    out: list[Finding] = []
    for path, written in _mounts(service, top):
        if path is None:
            out.append(Finding("POL017", f"host mount {written!r:.80} cannot be checked (not a literal path)",
                               where, written))
            continue
        reason = sensitive_reason(path)
        if reason and not _matches(re.sub("/+", "/", posixpath.normpath(path)) if path.startswith("/") else path,
                                   policy.allow_host_paths):
            out.append(Finding("POL017", f"mounts {reason} ({written})", where, path))
    return out


def _namespaces(policy: Policy, service: Mapping[str, Any], top: Mapping[str, Any], where: str) -> list[Finding]:
    out: list[Finding] = []
    shared: list[tuple[str, str]] = []
    for key, namespace in NAMESPACES:
        if key in service and service[key] is not None:
            value = literal(service[key])
            if value is None or value.strip().lower() == "host":
                shared.append((namespace, f"{key}: {service[key]}"))
    build = service.get("build")
    if isinstance(build, Mapping):
        network = build.get("network")
        if network is not None and (literal(network) is None or str(network).lower() == "host"):
            shared.append(("network", f"build.network: {network}"))
        for entitlement in build.get("entitlements") or [] if isinstance(build.get("entitlements"), list) else []:
            if literal(entitlement) in (None, "network.host"):
                shared.append(("network", f"build.entitlements: {entitlement}"))
    for network in _networks(service):
        if network in _host_networks(top):
            shared.append(("network", f"networks: {network}, the host network (or one named at deploy time)"))
    for namespace, written in shared:
        if namespace not in policy.allow_host_namespaces:
            out.append(Finding("POL016", f"shares the host's {namespace} namespace ({written})", where, written))
    return out


def _networks(service: Mapping[str, Any]) -> list[str]:
    networks = service.get("networks")
    if networks is None:
        return [] if "network_mode" in service else ["default"]
    return [str(name) for name in networks] if isinstance(networks, (list, Mapping)) else []


def _host_networks(top: Mapping[str, Any]) -> set[str]:
    networks = top.get("networks")
    found: set[str] = set()
    for key, spec in networks.items() if isinstance(networks, Mapping) else []:
        spec = spec if isinstance(spec, Mapping) else {}
        name = spec.get("name", key)
        if literal(name) is None or str(name) == "host" or spec.get("driver") == "host":
            found.add(str(key))
    return found


def _privileged(policy: Policy, service: Mapping[str, Any], where: str) -> list[Finding]:
    if policy.allow_privileged:
        return []
    out: list[Finding] = []
    build = _section(service, "build")
    for key, value in (("privileged", service.get("privileged")), ("build.privileged", build.get("privileged"))):
        if value is True:
            out.append(Finding("POL015", f"{key} is true", where, "true"))
        elif value not in (None, False):
            out.append(Finding("POL015", f"{key} {value!r:.60} cannot be checked (not a literal false)", where,
                               str(value)))
    entitlements = build.get("entitlements")
    for entitlement in entitlements if isinstance(entitlements, list) else []:
        if literal(entitlement) in (None, "security.insecure"):
            out.append(Finding("POL015", f"build.entitlements {entitlement} runs the build privileged", where,
                               str(entitlement)))
    return out


def _devices(policy: Policy, service: Mapping[str, Any], where: str) -> list[Finding]:
    out: list[Finding] = []
    for key in ("devices", "device_cgroup_rules"):
        entries = service.get(key)
        for entry in entries if isinstance(entries, list) else ([] if entries is None else [entries]):
            source = entry.get("source") if isinstance(entry, Mapping) else entry
            text = literal(source)
            host = text.split(":")[0] if text is not None and key == "devices" and "=" not in text else text
            if host is None or not _matches(host, policy.allow_devices):
                out.append(Finding("POL018", f"{key} gives the container host device access ({source})", where,
                                   str(source)))
    return out


def _capabilities(policy: Policy, service: Mapping[str, Any], where: str) -> list[Finding]:
    entries = service.get("cap_add")
    if entries is None:
        return []
    default = set(_allow_data("capabilities", "docker_default"))
    allowed = {cap.upper().removeprefix("CAP_") for cap in policy.allow_capabilities}
    out: list[Finding] = []
    for entry in entries if isinstance(entries, list) else [entries]:
        text = literal(entry)
        cap = None if text is None else text.strip().upper().removeprefix("CAP_")
        if cap is None:
            out.append(Finding("POL019", f"cap_add {entry!r:.60} cannot be checked", where, str(entry)))
        elif (cap == "ALL" or cap not in default) and cap not in allowed:
            out.append(Finding("POL019", f"cap_add {cap} is beyond Docker's default capabilities", where, cap))
    return out


def _unconfined(policy: Policy, service: Mapping[str, Any], where: str) -> list[Finding]:
    opts = security_opts(service)
    out = [Finding("POL020", f"security_opt {entry!r} cannot be checked (Docker applies the last entry)",
                   where, entry) for kind, entry in opts.unknown if kind not in policy.allow_unconfined]
    for kind, entry in opts.weakened():
        if kind not in policy.allow_unconfined:
            out.append(Finding("POL020", f"security_opt turns {kind} off ({entry} is what Docker applies)",
                               where, entry))
    return out


def host_escape_findings(policy: Policy, service: Mapping[str, Any], top: Mapping[str, Any],
                         where: str) -> list[Finding]:
    return [*_privileged(policy, service, where), *_namespaces(policy, service, top, where),
            *_host_paths(policy, service, top, where), *_devices(policy, service, where),
            *_capabilities(policy, service, where), *_unconfined(policy, service, where)]


UNDECIDED_RULES = ("POL015", "POL016", "POL017", "POL018", "POL019", "POL020")
