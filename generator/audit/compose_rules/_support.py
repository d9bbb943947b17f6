"""What compose rules share: reading a service's settings (merged keys included) and changing them
without breaking anchors, aliases or merge keys.

Changing a key that a service gets from a merge key (`<<: *common`) or an alias:
- a *uniform* change (safe, and the same for every service: no-new-privileges, log rotation) is
  made once, in the anchored mapping, so every service that merges it gets it and the anchor stays
  the single place to read;
- any other change (capabilities, tmpfs, limits, ulimits, health check, restart policy, ports,
  networks, environment) is set on the service itself, which overrides the merged value for that
  service only, and an aliased list or mapping is copied before it is changed, so the other
  services sharing it keep theirs (a service with an image hardcase does not know never receives a
  change that needs review through an anchor it shares).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from generator.audit.compose import ParsedCompose, Service, line_of
from generator.audit.compose_images import ImageInfo, lookup
from generator.audit.model import Violation

ROOT_USERS = frozenset({"", "0", "root"})


def image_info(service: Service) -> ImageInfo | None:
    return lookup(service.node.get("image"))


def image_name(service: Service) -> str:
    image = service.node.get("image")
    return str(image) if image is not None else "(built locally)"


def runs_as_root(service: Service, info: ImageInfo | None) -> bool:
    user = service.node.get("user")
    if user is None:
        return info is None or info.starts_as.split(":", 1)[0] in ROOT_USERS
    return str(user).split(":", 1)[0] in ROOT_USERS


def needed_caps(service: Service, info: ImageInfo) -> tuple[str, ...]:
    return info.root_caps if runs_as_root(service, info) else info.user_caps


def key_line(service: Service, key: str) -> int:
    return line_of(service.node, key, service.line)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def own(node: Any, key: str) -> bool:
    return key in getattr(node, "_ok", node)


def merged_source(node: Any, key: str) -> Any:
    """The merged-in mapping KEY comes from, or None when NODE sets it itself (or nobody does)."""
    if own(node, key):
        return None
    for mapping in getattr(node, "merge", ()) or ():
        if isinstance(mapping, dict) and key in mapping:
            return merged_source(mapping, key) or mapping
    return None


def is_shared(value: Any) -> bool:
    anchor = getattr(value, "anchor", None)
    return anchor is not None and getattr(anchor, "value", None) is not None


def anchor_note(service: Service, key: str) -> str:
    """How the report says a uniform fix went into a shared anchor rather than into the service."""
    shared = merged_source(service.node, key) is not None or is_shared(service.node.get(key))
    return " (in the shared anchor, for every service that uses it)" if shared else ""


def seq(items: list[Any], flow: bool = False) -> Any:
    from ruamel.yaml.comments import CommentedSeq

    result = CommentedSeq(items)
    if flow:
        result.fa.set_flow_style()
    else:
        result.fa.set_block_style()
    return result


def mapping(items: dict[str, Any]) -> Any:
    from ruamel.yaml.comments import CommentedMap

    result = CommentedMap()
    for key, value in items.items():
        result[key] = mapping(value) if isinstance(value, dict) and not hasattr(value, "lc") else value
    return result


def quoted(text: str) -> Any:
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    return DoubleQuotedScalarString(text)


def copy(value: Any) -> Any:
    """A plain (unanchored) copy of a list or mapping, keeping its flow/block style."""
    if isinstance(value, dict):
        result = mapping({})
        for key, item in value.items():
            result[key] = copy(item)
    elif isinstance(value, list):
        result = seq([copy(item) for item in value])
    else:
        return value
    style = getattr(getattr(value, "fa", None), "flow_style", lambda: None)()
    if style:
        result.fa.set_flow_style()
    return result


def set_key(service: Service, key: str, value: Any, uniform: bool = False) -> None:
    node = service.node
    source = merged_source(node, key)
    if source is not None and uniform:
        source[key] = value
    else:
        node[key] = value


def writable(service: Service, key: str, uniform: bool = False) -> Any:
    """The value of KEY (a list or mapping) in a form that can be changed for this service (see above)."""
    node = service.node
    source = merged_source(node, key)
    # A merged value is read from its anchor: the service's merged view does not see a `set_key` there.
    value = source[key] if uniform and source is not None else node.get(key)
    if not uniform and (source is not None or is_shared(value)):
        value = copy(value)
        node[key] = value
    return value


def child(container: Any, key: str, shared_ok: bool) -> Any:
    """The mapping CONTAINER[KEY], created empty if missing, copied if it is aliased elsewhere."""
    value = container.get(key)
    if not isinstance(value, dict):
        value = mapping({})
        container[key] = value
    elif is_shared(value) and not shared_ok:
        value = copy(value)
        container[key] = value
    return value


# --- environment -------------------------------------------------------------------------------

def environment(service: Service) -> Iterator[tuple[str, Any, int]]:
    """(name, value, line) for each variable; value None when the list form names the variable only."""
    env = service.node.get("environment")
    if isinstance(env, dict):
        for name, value in env.items():
            yield str(name), value, line_of(env, name, key_line(service, "environment"))
    elif isinstance(env, list):
        from generator.audit.compose import item_line

        for index, item in enumerate(env):
            name, equals, value = str(item).partition("=")
            yield name, value if equals else None, item_line(env, index, key_line(service, "environment"))


# --- ports -------------------------------------------------------------------------------------

PORT_RE = re.compile(r"^(?:(?P<ip>\[[^\]]*\]|[^:\[\]]*):(?=[^:]*:))?(?:(?P<host>[^:]*):)?(?P<container>[^:/]+)"
                     r"(?P<proto>/[a-z]+)?$")


def all_interfaces(ip: str) -> bool:
    """No address, or the unspecified one (IPv4 or IPv6): the port is open on every interface."""
    import ipaddress

    ip = ip.strip().strip("[]")
    if not ip:
        return True
    try:
        return ipaddress.ip_address(ip).is_unspecified
    except ValueError:
        return False  # a variable or a host name: not ours to judge


VARIABLE_RE = re.compile(r"\$\{[^}]*\}")


def port_entry(entry: Any) -> tuple[str | None, str, str] | None:
    """(host ip, host port, container port) of a short-syntax entry, or None for an unparseable one.
    Interpolations (`${DB_PORT:-5432}:5432`) are parts of their own, whatever colons they hold."""
    if isinstance(entry, int):
        return None, "", str(entry)
    variables: list[str] = []

    def hide(match: re.Match[str]) -> str:
        variables.append(match.group(0))
        return f"\0{len(variables) - 1}\0"

    def show(part: str | None) -> str | None:
        return None if part is None else re.sub("\0(\\d+)\0", lambda m: variables[int(m.group(1))], part)

    match = PORT_RE.match(VARIABLE_RE.sub(hide, str(entry).strip()))
    if match is None:
        return None
    return show(match.group("ip")), show(match.group("host")) or "", show(match.group("container")) or ""


def public_ports(service: Service) -> tuple[bool, set[str]]:
    """(the whole service is public, the ports marked public) from its `x-hardcase: {public: ...}`."""
    marker = service.node.get("x-hardcase")
    public = marker.get("public") if isinstance(marker, dict) else None
    if public is True:
        return True, set()
    return False, {str(port) for port in as_list(public) if not isinstance(port, bool)}


def published_to_all(entry: Any) -> bool:
    if isinstance(entry, dict):
        return all_interfaces(str(entry.get("host_ip", "")))
    parsed = port_entry(entry)
    if parsed is None:
        return False
    ip, _, _ = parsed
    return ip is None or all_interfaces(ip)


def ports_of(parsed: ParsedCompose) -> dict[str, list[Any]]:
    return {service.name: as_list(service.node.get("ports")) for service in parsed.services}


def target_service(parsed: ParsedCompose, violation: Violation) -> Service:
    """The service a compose finding is about (its index rides in the violation)."""
    return parsed.services[violation.instruction]


def unknown_image(service: Service) -> str:
    return f"{service.name}: image {image_name(service)} is not in hardcase's image knowledge; review by hand"
