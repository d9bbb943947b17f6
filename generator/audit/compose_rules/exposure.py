"""Who can reach a service: ports published on every interface, backends on networks that are not
internal.

A service (or some of its ports) is *public* when it says so, with an extension field that Compose
itself ignores:

    x-hardcase:
      public: true          # every port of the service
      public: [443, 80]     # only these (container or published port)

`hardcase harden --public SERVICE` writes `public: true` for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from generator.audit.compose import ParsedCompose, Service, item_line
from generator.audit.compose_rules._support import (
    as_list,
    image_info,
    key_line,
    mapping,
    port_entry,
    public_ports,
    published_to_all,
    quoted,
    seq,
    set_key,
    writable,
)
from generator.audit.model import ComposeFix, ComposeRule, FixSafety, Severity, Violation

LOOPBACK = "127.0.0.1"
BACKEND_NETWORK = "backend"


def _exposed(service: Service) -> Iterator[tuple[int, Any]]:
    """(index, entry) of every port entry published on all interfaces and not marked public."""
    everything, marked = public_ports(service)
    if everything:
        return
    for index, entry in enumerate(as_list(service.node.get("ports"))):
        if not published_to_all(entry):
            continue
        if isinstance(entry, dict):
            ports = {str(entry.get("target", "")), str(entry.get("published", ""))}
        else:
            parsed_entry = port_entry(entry)
            ports = {parsed_entry[1], parsed_entry[2]} if parsed_entry else set()
        if not ports & marked:
            yield index, entry


def check_ports(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that every published port is bound to `127.0.0.1`, unless the service or the port is
    marked public (`x-hardcase: {public: true}` or `{public: [443]}` on the service).

    Why is this bad?
    `"8080:80"` publishes on every interface of the host, and Docker's iptables rules bypass the
    host firewall: a database or admin port meant for local use is open to the network (CIS Docker
    Benchmark 5.14).

    Example:
    ```yaml
    services:
      db:
        image: postgres:16
        ports: ["5432:5432"]
    ```

    Use instead:
    ```yaml
    services:
      db:
        image: postgres:16
        ports: ["127.0.0.1:5432:5432"]
    ```

    Fix safety:
    Needs review. Clients on other hosts lose access; mark the service public
    (`hardcase harden --public SERVICE`) when that is what it is for. Only offered for images in
    hardcase's image knowledge; other services are reported.
    """
    for service in parsed.services:
        ports = service.node.get("ports")
        for index, entry in _exposed(service):
            shown = dict(entry) if isinstance(entry, dict) else entry
            yield PORTS.violation(item_line(ports, index, key_line(service, "ports")), f"{service.name}: {shown}",
                                  service=service.index)


def _loopback(entry: Any) -> Any:
    if isinstance(entry, dict):
        return None
    parsed_entry = port_entry(entry)
    if parsed_entry is None:
        return None
    _, host, container = parsed_entry
    proto = re.search(r"/[a-z]+$", str(entry))
    return quoted(f"{LOOPBACK}:{host}:{container}{proto.group(0) if proto else ''}")


def fix_ports(parsed: ParsedCompose, violation: Violation) -> ComposeFix | None:
    service = parsed.services[violation.instruction]
    if image_info(service) is None:
        return None
    exposed = list(_exposed(service))
    if not exposed:
        return None

    def apply() -> None:
        ports = writable(service, "ports")
        for index, entry in exposed:
            if isinstance(entry, dict):
                ports[index]["host_ip"] = LOOPBACK
            else:
                ports[index] = _loopback(entry)

    return ComposeFix(FixSafety.NEEDS_REVIEW, f"{service.name}: ports bound to {LOOPBACK}", apply)


# --- backend networks --------------------------------------------------------------------------

def _networks(service: Service) -> list[str]:
    networks = service.node.get("networks")
    if isinstance(networks, dict):
        return [str(name) for name in networks]
    return [str(name) for name in as_list(networks)] or ["default"]


def _internal(parsed: ParsedCompose, name: str) -> bool:
    definition = (parsed.data.get("networks") or {}).get(name)
    return isinstance(definition, dict) and definition.get("internal") is True


def _backend_exposed(parsed: ParsedCompose, service: Service) -> bool:
    info = image_info(service)
    return (info is not None and info.role == "backend" and not as_list(service.node.get("ports"))
            and service.node.get("network_mode") is None
            and not all(_internal(parsed, name) for name in _networks(service)))


def check_backend_network(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that a backend service (a database, cache or broker from hardcase's image knowledge)
    that publishes no port is only on `internal: true` networks.

    Why is this bad?
    On a normal bridge network the backend can open connections to the internet: a compromised
    database can exfiltrate data or fetch tools. It only needs to be reached by the services that
    use it (CIS Docker Benchmark 5.30: a network per purpose, never the default bridge).

    Example:
    ```yaml
    services:
      app:
        image: example/app:1
      db:
        image: postgres:16
    ```

    Use instead:
    ```yaml
    services:
      app:
        image: example/app:1
        networks: [default, backend]
      db:
        image: postgres:16
        networks: [backend]
    networks:
      backend:
        internal: true
    ```

    Fix safety:
    Needs review. The backend moves to the internal network `backend`; the services that use it
    (those naming it in `depends_on`, `links` or an environment value; if none do, every service
    that shared a network with it) join `backend` too, keeping their own networks.
    """
    for service in parsed.services:
        if _backend_exposed(parsed, service):
            yield BACKEND.violation(key_line(service, "networks"), f"{service.name} on {', '.join(_networks(service))}",
                                    service=service.index)


def _uses(client: Service, backend: str) -> bool:
    node = client.node
    depends = node.get("depends_on")
    names = [str(n) for n in (depends if isinstance(depends, dict) else as_list(depends))]
    names += [str(link).split(":", 1)[0] for link in as_list(node.get("links"))]
    env = node.get("environment")
    values = [str(v) for v in (env.values() if isinstance(env, dict) else as_list(env)) if v is not None]
    pattern = re.compile(rf"(?<![\w.-]){re.escape(backend)}(?![\w-])")
    return backend in names or any(pattern.search(value) for value in values)


def _network_name(parsed: ParsedCompose) -> str:
    networks = parsed.data.get("networks") or {}
    name, number = BACKEND_NETWORK, 2
    while name in networks and not _internal(parsed, name):
        name, number = f"{BACKEND_NETWORK}-{number}", number + 1
    return name


def fix_backend_network(parsed: ParsedCompose, violation: Violation) -> ComposeFix | None:
    service = parsed.services[violation.instruction]
    networks = service.node.get("networks")
    if isinstance(networks, dict) and any(value for value in networks.values()):
        return None  # aliases or addresses on its networks: moving it is for the owner
    name = _network_name(parsed)
    shared = set(_networks(service))
    others = [s for s in parsed.services if s.name != service.name and s.node.get("network_mode") is None]
    peers = [s for s in others if _uses(s, service.name)] or [s for s in others if shared & set(_networks(s))]

    def apply() -> None:
        if not isinstance(parsed.data.get("networks"), dict):
            parsed.data["networks"] = mapping({})
        parsed.data["networks"].setdefault(name, mapping({"internal": True}))
        set_key(service, "networks", seq([name]))
        for peer in peers:
            current = peer.node.get("networks")
            if isinstance(current, dict):
                if name not in current:
                    writable(peer, "networks")[name] = None
            elif isinstance(current, list):
                if name not in current:
                    writable(peer, "networks").append(name)
            else:
                set_key(peer, "networks", seq(["default", name]))

    joined = f"; {', '.join(p.name for p in peers)} join it" if peers else ""
    return ComposeFix(FixSafety.NEEDS_REVIEW, f"{service.name}: internal network {name}{joined}", apply)


def _host_port(entry: Any) -> int | None:
    """The literal host port an entry publishes (the first of a range), None when it is chosen by
    the engine or comes from a variable."""
    if isinstance(entry, dict):
        published = str(entry.get("published", ""))
    else:
        parsed_entry = port_entry(entry)
        published = parsed_entry[1] if parsed_entry else ""
    first = published.split("-", 1)[0]
    return int(first) if first.isdigit() else None


def check_privileged_ports(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that no service publishes a host port below 1024, unless the service or the port is
    marked public (`x-hardcase: {public: true}` or `{public: [443]}`).

    Why is this bad?
    Ports below 1024 are the host's privileged ports: only root may bind them, so clients trust
    that the host's own administrator runs what answers there (ssh, smtp, dns). A container mapped
    onto one takes that place (CIS Docker Benchmark 5.8).

    Example:
    ```yaml
    services:
      admin:
        image: example/admin:1
        ports: ["127.0.0.1:80:8080"]
    ```

    Use instead:
    ```yaml
    services:
      admin:
        image: example/admin:1
        ports: ["127.0.0.1:8080:8080"]
    ```

    Fix safety:
    Not fixable: clients address the port; its owner decides. A front end that must answer on
    80/443 is marked public (`hardcase harden --public SERVICE`), which records that decision.
    """
    for service in parsed.services:
        everything, marked = public_ports(service)
        if everything:
            continue
        ports = service.node.get("ports")
        for index, entry in enumerate(as_list(ports)):
            host = _host_port(entry)
            if host is not None and host < 1024 and str(host) not in marked:
                shown = dict(entry) if isinstance(entry, dict) else entry
                yield PRIVILEGED_PORT.violation(item_line(ports, index, key_line(service, "ports")),
                                                f"{service.name}: {shown}", service=service.index)


PORTS = ComposeRule("HC130", "compose-port-on-all-interfaces", Severity.ERROR, "port published on all interfaces",
                    "5.14", check_ports, fix_ports, FixSafety.NEEDS_REVIEW)
BACKEND = ComposeRule("HC131", "compose-backend-not-internal", Severity.WARNING, "backend service is not on an "
                      "internal network", "5.30", check_backend_network, fix_backend_network, FixSafety.NEEDS_REVIEW)
PRIVILEGED_PORT = ComposeRule("HC132", "compose-privileged-host-port", Severity.INFO, "host port below 1024 "
                              "published", "5.8", check_privileged_ports)
RULES = (PORTS, BACKEND, PRIVILEGED_PORT)
