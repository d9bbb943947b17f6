"""Issue #11, item 4: the org policy sees host-level escapes in compose, as Compose and Docker apply them.

Each escape (privileged, host namespaces, the Docker socket or `/` mounted, devices, dangerous
capabilities, a confinement switched off by a later security_opt entry) is a violation under a
policy that never mentions it; `allow` is the only way to permit one. Override files, `-f` sets,
`.env` COMPOSE_FILE, `extends`, `include`, `!reset` and `!override` are merged as Compose merges
them, and the merge is checked against `docker-compose config` itself.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from compose_support import docker_compose
from scaffold_support import assert_one_line_error, run_cli

from generator.policy import files as policy
from generator.policy.compose_model import ComposeModel, load
from generator.policy.rules import evaluate

QUIET = "banned_instructions: [MAINTAINER]\n"  # a policy that says nothing about compose


@pytest.fixture(autouse=True)
def _no_org_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(policy.POLICY_ENV, raising=False)


def load_policy(tmp_path: Path, text: str = QUIET) -> policy.Policy:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    return policy.load(path)


def rules_for(tmp_path: Path, service: dict[str, Any], top: dict[str, Any] | None = None,
              text: str = QUIET) -> set[str]:
    data = {"services": {"svc": {"image": "nginx", **service}}, **(top or {})}
    return {v.rule for v in evaluate(load_policy(tmp_path, text), None, ComposeModel.single(data))}


ESCAPES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("POL015", {"privileged": True}, {}),
    ("POL015", {"privileged": "${PRIV:-true}"}, {}),
    ("POL015", {"privileged": "false"}, {}),  # not a literal false: a string Compose would cast
    ("POL015", {"build": {"context": ".", "privileged": True}}, {}),
    ("POL015", {"build": {"context": ".", "entitlements": ["security.insecure"]}}, {}),
    ("POL016", {"pid": "host"}, {}),
    ("POL016", {"ipc": "host"}, {}),
    ("POL016", {"network_mode": "host"}, {}),
    ("POL016", {"userns_mode": "host"}, {}),
    ("POL016", {"uts": "host"}, {}),
    ("POL016", {"cgroup": "host"}, {}),
    ("POL016", {"network_mode": "${NET_MODE}"}, {}),
    ("POL016", {"build": {"context": ".", "network": "host"}}, {}),
    ("POL016", {"networks": ["outside"]}, {"networks": {"outside": {"external": True, "name": "host"}}}),
    ("POL017", {"volumes": ["/var/run/docker.sock:/var/run/docker.sock:ro"]}, {}),
    ("POL017", {"volumes": ["/run/docker.sock:/s"]}, {}),
    ("POL017", {"volumes": ["/srv/engine/docker.sock:/s"]}, {}),
    ("POL017", {"volumes": ["/:/host:ro"]}, {}),
    ("POL017", {"volumes": ["//:/host"]}, {}),
    ("POL017", {"volumes": [{"type": "bind", "source": "/", "target": "/host", "read_only": True}]}, {}),
    ("POL017", {"volumes": [{"type": "bind", "source": "/etc/shadow", "target": "/s"}]}, {}),
    ("POL017", {"volumes": ["/var:/v"]}, {}),  # holds /var/run and /var/lib/docker
    ("POL017", {"volumes": ["/proc:/host/proc:ro"]}, {}),
    ("POL017", {"volumes": ["/sys/fs/cgroup:/c"]}, {}),
    ("POL017", {"volumes": ["/dev:/dev"]}, {}),
    ("POL017", {"volumes": ["/root/.ssh:/k"]}, {}),
    ("POL017", {"volumes": ["/home:/h"]}, {}),
    ("POL017", {"volumes": ["/boot:/b"]}, {}),
    ("POL017", {"volumes": ["/var/lib/docker:/d"]}, {}),
    ("POL017", {"volumes": ["/var/run/../../etc:/e"]}, {}),
    ("POL017", {"volumes": ["../../../../../../..:/up"]}, {}),
    ("POL017", {"volumes": ["~/.aws:/root/.aws"]}, {}),
    ("POL017", {"volumes": ["${HOST_DIR}:/data"]}, {}),
    ("POL017", {"volumes": ["data:/data"]},
     {"volumes": {"data": {"driver": "local", "driver_opts": {"type": "none", "o": "bind", "device": "/"}}}}),
    ("POL017", {"secrets": ["key"]}, {"secrets": {"key": {"file": "/etc/shadow"}}}),
    ("POL017", {"volumes_from": ["container:other"]}, {}),
    ("POL018", {"devices": ["/dev/sda:/dev/sda"]}, {}),
    ("POL018", {"devices": ["/dev/kmsg"]}, {}),
    ("POL018", {"devices": [{"source": "/dev/mem", "target": "/dev/mem", "permissions": "rwm"}]}, {}),
    ("POL018", {"device_cgroup_rules": ["c 1:3 mr"]}, {}),
    ("POL019", {"cap_add": ["SYS_ADMIN"]}, {}),
    ("POL019", {"cap_add": ["ALL"]}, {}),
    ("POL019", {"cap_add": ["cap_sys_ptrace"]}, {}),
    ("POL019", {"cap_add": ["NET_ADMIN", "NET_BIND_SERVICE"]}, {}),
    ("POL019", {"cap_add": ["${CAP}"]}, {}),
    ("POL020", {"security_opt": ["seccomp=profile.json", "seccomp:unconfined"]}, {}),
    ("POL020", {"security_opt": ["seccomp:unconfined"]}, {}),
    ("POL020", {"security_opt": ["apparmor=unconfined"]}, {}),
    ("POL020", {"security_opt": ["apparmor:docker-default", "apparmor:unconfined"]}, {}),
    ("POL020", {"security_opt": ["no-new-privileges:true", "no-new-privileges:false"]}, {}),
    ("POL020", {"security_opt": ["no-new-privileges", "no-new-privileges=false"]}, {}),
    ("POL020", {"security_opt": ["no-new-privileges=true", "no-new-privileges:0"]}, {}),
    ("POL020", {"security_opt": ["label=disable"]}, {}),
    ("POL020", {"security_opt": ["label:disable", "label:level:s0"]}, {}),
    ("POL020", {"security_opt": ["label=type:spc_t"]}, {}),
    ("POL020", {"security_opt": ["systempaths=unconfined"]}, {}),
    ("POL020", {"security_opt": ["writable-cgroups=true"]}, {}),
    ("POL020", {"security_opt": ["no-new-privileges:true", "${MORE_OPTS}"]}, {}),
    ("POL020", {"security_opt": "seccomp=unconfined"}, {}),  # not a list: cannot be read
]


@pytest.mark.parametrize(("rule", "service", "top"), ESCAPES, ids=[f"{c[0]}-{i}" for i, c in enumerate(ESCAPES)])
def test_each_host_escape_is_a_violation_under_any_policy(tmp_path: Path, rule: str, service: dict[str, Any],
                                                          top: dict[str, Any]) -> None:
    assert rules_for(tmp_path, service, top) == {rule}


SAFE: list[dict[str, Any]] = [
    {"network_mode": "service:db", "pid": "container:db", "ipc": "shareable"},
    {"network_mode": "container:vpn", "cgroup": "private", "userns_mode": ""},
    {"volumes": ["./data:/data", "data:/var/lib/data", "/srv/app:/app:ro", "/tmp/cache:/cache", "/anon"]},
    {"volumes": [{"type": "tmpfs", "target": "/tmp"}, {"type": "volume", "source": "data", "target": "/d"}]},
    {"cap_add": ["NET_BIND_SERVICE", "CAP_CHOWN"], "cap_drop": ["ALL"]},
    {"security_opt": ["seccomp=unconfined", "seccomp=profile.json", "no-new-privileges:false",
                      "no-new-privileges=true", "apparmor=unconfined", "apparmor=docker-default"]},
    {"privileged": False, "read_only": True},
    {"secrets": ["key"]},
]


@pytest.mark.parametrize("service", SAFE)
def test_settings_that_stay_in_the_container_are_not_violations(tmp_path: Path, service: dict[str, Any]) -> None:
    top = {"volumes": {"data": {}}, "secrets": {"key": {"file": "./key.txt"}}}
    assert rules_for(tmp_path, service, top) == set()


def test_allow_permits_exactly_what_it_lists(tmp_path: Path) -> None:
    allowing = ("allow: {privileged: true, host_namespaces: [pid], host_paths: [/var/run/docker.sock, '/etc/*'],\n"
                "        devices: [/dev/kmsg], capabilities: [SYS_PTRACE], unconfined: [apparmor]}\n")
    allowed = {"privileged": True, "pid": "host", "volumes": ["/var/run/docker.sock:/s", "/etc/localtime:/l:ro"],
               "devices": ["/dev/kmsg"], "cap_add": ["SYS_PTRACE"], "security_opt": ["apparmor=unconfined"]}
    assert rules_for(tmp_path, allowed, text=allowing) == set()
    not_listed = {"ipc": "host", "volumes": ["/:/host"], "devices": ["/dev/sda"], "cap_add": ["SYS_ADMIN"],
                  "security_opt": ["seccomp=unconfined"]}
    assert rules_for(tmp_path, not_listed, text=allowing) == {"POL016", "POL017", "POL018", "POL019", "POL020"}


def test_requirements_read_the_last_security_opt_entry(tmp_path: Path) -> None:
    text = "require: {no_new_privileges: true, seccomp: true}\nallow: {unconfined: [seccomp, no-new-privileges]}\n"
    assert rules_for(tmp_path, {"security_opt": ["no-new-privileges:true", "seccomp=p.json"]}, text=text) == set()
    undone = {"security_opt": ["no-new-privileges:true", "seccomp=p.json", "no-new-privileges:false",
                               "seccomp:unconfined"]}
    assert rules_for(tmp_path, undone, text=text) == {"POL006", "POL008"}


# --- through `policy audit`: override files, -f, .env, extends, include, tags --------------------


def project(tmp_path: Path, files: dict[str, str], policy_text: str = QUIET) -> Path:
    dest = tmp_path / "svc"
    dest.mkdir()
    (dest / policy.POLICY_FILE).write_text(policy_text, encoding="utf-8")
    for name, text in files.items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_text(text, encoding="utf-8")
    return dest


def audit(dest: Path, *args: str) -> tuple[int, list[tuple[str, str]]]:
    result = run_cli("policy", "audit", dest, "--format", "json", *args)
    assert result.stderr == "", result.stderr
    violations = json.loads(result.stdout)["violations"]
    return result.exit_code, [(v["rule"], v["where"]) for v in violations]


BASE = "services:\n  web:\n    image: nginx\n    security_opt: ['no-new-privileges:true']\n"


def test_the_default_override_file_is_merged(tmp_path: Path) -> None:
    dest = project(tmp_path, {"compose.yaml": BASE,
                              "compose.override.yaml": "services:\n  web:\n    privileged: true\n"})
    assert audit(dest) == (1, [("POL015", "compose.yaml+compose.override.yaml services.web")])


def test_a_later_security_opt_in_an_override_wins(tmp_path: Path) -> None:
    dest = project(tmp_path, {"compose.yaml": BASE,
                              "docker-compose.override.yml": "services:\n  web:\n    security_opt: "
                                                             "['no-new-privileges=false']\n"})
    assert [rule for rule, _ in audit(dest)[1]] == ["POL020"]


def test_file_sets_replace_the_default_discovery(tmp_path: Path) -> None:
    dest = project(tmp_path, {"compose.yaml": BASE,
                              "compose.override.yaml": "services:\n  web:\n    privileged: true\n",
                              "deploy/prod.yaml": "services:\n  web:\n    volumes: ['/:/host']\n"})
    code, found = audit(dest, "-f", "compose.yaml", "--file", "deploy/prod.yaml")
    assert (code, found) == (1, [("POL017", "compose.yaml+deploy/prod.yaml services.web")])
    assert audit(dest, "-f", "compose.yaml") == (0, [])
    assert_one_line_error(run_cli("policy", "audit", dest, "-f", "missing.yaml"), 2, mentions="missing.yaml")
    assert_one_line_error(run_cli("policy", "audit", dest, "-f", "../elsewhere.yaml"), 2, mentions="not inside")


def test_compose_file_from_the_env_file_is_used(tmp_path: Path) -> None:
    dest = project(tmp_path, {"compose.yaml": BASE, "extra.yaml": "services:\n  web:\n    pid: host\n",
                              ".env": "TAG=1\nCOMPOSE_FILE=compose.yaml:extra.yaml\n"})
    assert [rule for rule, _ in audit(dest)[1]] == ["POL016"]


def test_reset_and_override_tags_are_applied(tmp_path: Path) -> None:
    base = BASE + "    privileged: true\n    cap_add: [SYS_ADMIN]\n    volumes: ['/etc:/e']\n"
    override = ("services:\n  web:\n    privileged: !reset null\n    cap_add: !reset []\n"
                "    volumes: !override ['./data:/data']\n    security_opt: !override ['seccomp=unconfined']\n")
    dest = project(tmp_path, {"compose.yaml": base, "compose.override.yaml": override})
    assert [rule for rule, _ in audit(dest)[1]] == ["POL020"]


def test_extends_and_include_bring_their_escapes(tmp_path: Path) -> None:
    files = {
        "compose.yaml": ("include: [parts/tools.yaml]\nservices:\n  base:\n    image: nginx\n    privileged: true\n"
                         "  web:\n    extends: base\n"
                         "  api:\n    extends: {file: parts/common.yaml, service: common}\n"),
        "parts/common.yaml": "services:\n  common:\n    image: nginx\n    volumes: ['../../..:/up']\n",
        "parts/tools.yaml": "services:\n  tools:\n    image: nginx\n    cap_add: [ALL]\n",
    }
    found = audit(project(tmp_path, files))[1]
    assert sorted(found) == [("POL015", "compose.yaml services.base"), ("POL015", "compose.yaml services.web"),
                             ("POL017", "compose.yaml services.api"), ("POL019", "compose.yaml services.tools")]


def test_files_outside_the_project_are_undecidable_not_trusted(tmp_path: Path) -> None:
    (tmp_path / "outside.yaml").write_text("services:\n  x:\n    image: nginx\n", encoding="utf-8")
    files = {"compose.yaml": "services:\n  web:\n    extends: {file: ../outside.yaml, service: x}\n"}
    found = audit(project(tmp_path, files))[1]
    assert {rule for rule, _ in found} == {f"POL0{n}" for n in range(15, 21)}


def test_odd_compose_input_is_a_violation_or_an_error_never_a_traceback(tmp_path: Path) -> None:
    odd = ("services:\n  web:\n    image: nginx\n    cap_add: {SYS_ADMIN: 1}\n    volumes: 7\n"
           "    ports: ['[::1']\n    devices: /dev/sda\n    security_opt: {seccomp: unconfined}\n"
           "    user: 1e3\n    privileged: [true]\n")
    result = run_cli("policy", "audit", project(tmp_path, {"compose.yaml": odd}, "uid_range: {min: 1000}\n"
                                                           "require: {localhost_ports: true}\n"))
    assert result.exit_code == 1 and result.stderr == ""
    assert {line.split(": ")[1].split()[0] for line in result.stdout.splitlines()[:-1]} >= {
        "POL004", "POL011", "POL015", "POL017", "POL018", "POL019", "POL020"}
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / policy.POLICY_FILE).write_text(QUIET, encoding="utf-8")
    (bad / "compose.yaml").write_bytes(b"services:\n  web:\n    image: \xff\n")
    assert_one_line_error(run_cli("policy", "audit", bad), 2, mentions="not UTF-8")
    (bad / "compose.yaml").write_text("services:\n  web:\n    extends: web\n", encoding="utf-8")
    assert_one_line_error(run_cli("policy", "audit", bad), 2, mentions="extends itself")


# --- the merge agrees with Compose itself --------------------------------------------------------

MERGES = [
    ("services:\n  web:\n    image: nginx\n    security_opt: ['no-new-privileges:true', 'no-new-privileges:false']\n",
     "services:\n  web:\n    security_opt: ['no-new-privileges:true']\n"),
    ("services:\n  web:\n    image: nginx\n    volumes: ['data:/data', './x:/x']\n    devices: ['/dev/a:/dev/a']\n"
     "    cap_add: [NET_ADMIN]\nvolumes:\n  data: {}\n",
     "services:\n  web:\n    volumes: ['/etc:/data']\n    devices: ['/dev/b:/dev/a']\n    cap_add: !reset []\n"
     "    privileged: !override true\n"),
    ("services:\n  web:\n    image: nginx\n    pid: host\n    security_opt: ['seccomp=unconfined']\n",
     "services:\n  web:\n    pid: !reset null\n    security_opt: !override ['apparmor=unconfined']\n"),
    ("services:\n  base:\n    image: nginx\n    cap_add: [SYS_PTRACE]\n  web:\n    extends: base\n"
     "    cap_add: [NET_ADMIN]\n    privileged: true\n", "services:\n  web:\n    privileged: false\n"),
]


def _comparable(service: dict[str, Any], directory: Path) -> dict[str, Any]:
    """The settings the host-escape rules read, in one form for Compose's output and the model."""
    volumes = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, str):
            source, _, target = entry.partition(":")
            source = str((directory / source).resolve()) if source.startswith(".") else source
            volumes.append((source, target.partition(":")[0]))
        else:
            volumes.append((entry.get("source"), entry["target"]))
    devices = [(d.split(":")[0], d.split(":")[1]) if isinstance(d, str) else (d["source"], d["target"])
               for d in service.get("devices") or []]
    return {"security_opt": service.get("security_opt") or [], "cap_add": sorted(service.get("cap_add") or []),
            "privileged": bool(service.get("privileged")), "pid": service.get("pid"),
            "volumes": sorted(volumes), "devices": sorted(devices)}


@pytest.mark.parametrize(("base", "override"), MERGES)
def test_the_merge_matches_docker_compose_config(tmp_path: Path, base: str, override: str) -> None:
    (tmp_path / "compose.yaml").write_text(base, encoding="utf-8")
    (tmp_path / "compose.override.yaml").write_text(override, encoding="utf-8")
    config = subprocess.run([docker_compose(), "config", "--format", "json"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, check=True)
    theirs = json.loads(config.stdout)["services"]["web"]

    def read(relative: str) -> bytes | None:
        path = tmp_path / relative
        return path.read_bytes() if path.is_file() else None

    model = load(read, ["compose.yaml", "compose.override.yaml"])
    ours = model.variants[0]["services"]["web"]  # the newer Compose reading: what this Compose runs
    assert _comparable(ours, tmp_path) == _comparable(theirs, tmp_path)


def test_an_include_fan_out_is_refused_not_a_hang(tmp_path: Path) -> None:
    fan = "include: [" + ", ".join(["a.yaml"] * 30) + "]\nservices: {}\n"
    files = {"compose.yaml": fan, "a.yaml": fan.replace("a.yaml", "b.yaml"), "b.yaml": fan.replace("a.yaml", "c.yaml"),
             "c.yaml": "services:\n  x:\n    image: nginx\n"}
    assert_one_line_error(run_cli("policy", "audit", project(tmp_path, files)), 2, mentions="more than 256")
