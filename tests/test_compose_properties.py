"""Properties of compose hardening on generated stacks: whatever valid compose file goes in, the
hardened one loads, passes the same validation (`docker-compose config -q`) and is a fixed point."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

from compose_support import compose_config_errors, harden_compose
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from generator.audit.compose import parse_compose

IMAGES = ["postgres:16", "127.0.0.1:5000/library/postgres:15-bookworm", "redis:7", "mysql:8.4", "mariadb:11",
          "mongo:7", "rabbitmq:3.13", "memcached:1.6", "nginx:1.27", "nginxinc/nginx-unprivileged:1.27",
          "traefik:v3.1", "example/app:1", "ghcr.io/acme/api:2.0"]
NAMES = st.sampled_from(["web", "db", "cache", "worker", "api", "proxy", "queue"])
PORTS = st.one_of(st.integers(1024, 65535), st.sampled_from(["8080:80", "127.0.0.1:5432:5432", "0.0.0.0:443:443",
                                                            "9000", "[::]:8443:443/tcp"]))
ENV = st.dictionaries(st.sampled_from(["POSTGRES_PASSWORD", "MYSQL_ROOT_PASSWORD", "API_TOKEN", "LOG_LEVEL",
                                       "MONGO_INITDB_ROOT_PASSWORD", "MARIADB_PASSWORD"]),
                      st.sampled_from(["${SECRET}", "$SECRET", "literal", "info"]), max_size=3)


@st.composite
def services(draw: st.DrawFn) -> dict[str, Any]:
    service: dict[str, Any] = {"image": draw(st.sampled_from(IMAGES))}
    if draw(st.booleans()):
        service["ports"] = draw(st.lists(PORTS, max_size=2, unique=True))
    if draw(st.booleans()):
        service["environment"] = draw(ENV)
    if draw(st.booleans()):
        service["restart"] = draw(st.sampled_from(["always", "unless-stopped", "on-failure", "no", "on-failure:3"]))
    if draw(st.booleans()):
        service["security_opt"] = draw(st.sampled_from([["label:disable"], ["no-new-privileges:true"],
                                                        ["seccomp:unconfined"]]))
    if draw(st.booleans()):
        service["cap_add"] = draw(st.sampled_from([["NET_ADMIN"], ["CHOWN"], ["SYS_PTRACE", "NET_BIND_SERVICE"]]))
    if draw(st.booleans()):
        service["volumes"] = draw(st.sampled_from([["data:/data"], ["./conf:/etc/app:ro"], ["/var/run/docker.sock:"
                                                                                          "/var/run/docker.sock"]]))
    if draw(st.booleans()):
        service["user"] = draw(st.sampled_from(["999:999", "0", "1000"]))
    if draw(st.booleans()):
        service["logging"] = {"driver": "json-file"}
    return service


@st.composite
def stacks(draw: st.DrawFn) -> str:
    chosen = draw(st.dictionaries(NAMES, services(), min_size=1, max_size=4))
    document: dict[str, Any] = {"services": chosen}
    mounts = [v for s in chosen.values() for v in s.get("volumes", [])]
    named = sorted({v.split(":")[0] for v in mounts if not v.startswith(("/", "."))})
    if named:
        document["volumes"] = {name: {} for name in named}
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=stacks(), unsafe=st.booleans())
def test_hardened_stacks_stay_valid_and_are_fixed_points(text: str, unsafe: bool) -> None:
    with tempfile.TemporaryDirectory() as directory:
        assert compose_config_errors(text, Path(directory)) == ""
        result = harden_compose(text, unsafe=unsafe)
        parse_compose(result.text)
        assert compose_config_errors(result.text, Path(directory)) == ""
    assert harden_compose(result.text, unsafe=unsafe).text == result.text
    allowed = {"safe", "needs-review"} if unsafe else {"safe"}
    assert not [v for v in result.remaining if v.fix is not None and v.fix.safety.value in allowed]
    assert parse_compose(result.text).dump() == result.text
