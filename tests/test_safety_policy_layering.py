"""Issue #11, items 6 and 14: a project policy may only tighten the org's; odd USER values never crash.

Item 6: a project `hardcase-policy.yaml` layered on `HARDCASE_POLICY` that loosens or replaces any
org value (the registry mirror, a range, a requirement, an allow-list, an `allow`) is refused with
one line naming the key; tightening works. Every schema key declares how it layers.
Item 14: `USER ²` (a Unicode digit Python's int() accepts) under a `uid_range` policy is a violation,
not a traceback; so is every other non-ASCII or odd UID.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from scaffold_support import assert_one_line_error, files_under, run_cli, run_ok

from generator.policy import files as policy

ORG = """\
allowed_registries: ["*.corp.example", docker.io]
allowed_base_images: ["python:*", "golang:*", "gcr.io/distroless/*"]
registry_mirror: registry.corp.example/hub
required_labels: [org.opencontainers.image.title]
uid_range: {min: 10000, max: 65532}
require: {read_only: true, no_new_privileges: true, max_syscalls: 200}
allowed_cap_add: [NET_BIND_SERVICE]
banned_packages: [curl]
allow: {host_paths: ["/etc/localtime"], capabilities: [IPC_LOCK]}
"""
COMPOSE = ("services:\n  web:\n    image: registry.corp.example/hub/python:3.13\n    read_only: true\n"
           "    security_opt: ['no-new-privileges:true']\n")

LOOSENING = [
    ("registry_mirror: evil.example/hub\n", "registry_mirror"),
    ("allowed_registries: [docker.io, quay.io]\n", "allowed_registries: 'quay.io'"),
    ("allowed_registries: ['*']\n", "allowed_registries"),
    ("allowed_registries: ['registry.corp.exampl?']\n", "allowed_registries"),
    ("allowed_base_images: ['*']\n", "allowed_base_images"),
    ("allowed_base_images: ['python:*', 'ruby:*']\n", "allowed_base_images: 'ruby:*'"),
    ("uid_range: {min: 1}\n", "uid_range.min"),
    ("uid_range: {max: 65535}\n", "uid_range.max"),
    ("require: {read_only: false}\n", "require.read_only"),
    ("require: {no_new_privileges: false, seccomp: true}\n", "require.no_new_privileges"),
    ("require: {max_syscalls: 400}\n", "require.max_syscalls"),
    ("allowed_cap_add: [NET_BIND_SERVICE, SYS_ADMIN]\n", "allowed_cap_add"),
    ("allow: {privileged: true}\n", "allow.privileged"),
    ("allow: {host_namespaces: [pid]}\n", "allow.host_namespaces"),
    ("allow: {host_paths: ['/etc/*']}\n", "allow.host_paths"),
    ("allow: {devices: [/dev/kmsg]}\n", "allow.devices"),
    ("allow: {capabilities: [SYS_ADMIN]}\n", "allow.capabilities"),
    ("allow: {unconfined: [seccomp]}\n", "allow.unconfined"),
]
TIGHTENING = [
    "registry_mirror: registry.corp.example/hub\n",
    "allowed_registries: [registry.corp.example]\n",
    "allowed_base_images: ['python:3.13*']\n",
    "uid_range: {min: 20000, max: 30000}\n",
    "require: {read_only: true, seccomp: false, max_syscalls: 150, cap_drop_all: true}\n",
    "allowed_cap_add: [cap_net_bind_service]\n",
    "allowed_cap_add: []\n",
    "banned_packages: [wget]\nbanned_instructions: [ADD]\nrequired_labels: [org.example.team]\n",
    "allow: {privileged: false, host_paths: [/etc/localtime], capabilities: [CAP_IPC_LOCK]}\n",
    "version: 1\n",
]


@pytest.fixture
def org(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "org.yaml"
    path.write_text(ORG, encoding="utf-8")
    monkeypatch.setenv(policy.POLICY_ENV, str(path))
    return path


def project(tmp_path: Path, policy_text: str) -> Path:
    dest = tmp_path / "svc"
    dest.mkdir()
    (dest / policy.POLICY_FILE).write_text(policy_text, encoding="utf-8")
    (dest / "compose.yaml").write_text(COMPOSE, encoding="utf-8")
    (dest / "Dockerfile").write_text("FROM python:3.13\nUSER 20001\n", encoding="utf-8")
    return dest


@pytest.mark.parametrize(("text", "names"), LOOSENING, ids=[case[1].split(":")[0] for case in LOOSENING])
def test_a_project_policy_cannot_loosen_the_org_policy(tmp_path: Path, org: Path, text: str, names: str) -> None:
    dest = project(tmp_path, text)
    message = assert_one_line_error(run_cli("policy", "audit", dest), 2, mentions=names)
    assert "may only tighten" in message and str(org) in message
    assert_one_line_error(run_cli("check", dest / "Dockerfile"), 2, mentions=names)


@pytest.mark.parametrize("text", TIGHTENING)
def test_a_project_policy_may_tighten_the_org_policy(tmp_path: Path, org: Path, text: str) -> None:
    result = run_cli("policy", "audit", project(tmp_path, text))
    assert result.exit_code in (0, 1) and result.stderr == "", result.stderr


def test_new_refuses_a_project_that_replaces_the_org_mirror(tmp_path: Path, org: Path) -> None:
    dest = tmp_path / "svc"
    dest.mkdir()
    (dest / policy.POLICY_FILE).write_text("registry_mirror: evil.example/hub\n", encoding="utf-8")
    assert_one_line_error(run_cli("new", dest, "--preset", "go-stdlib", "--no-input"), 2,
                          mentions="registry_mirror: 'evil.example/hub' replaces the org's")
    assert files_under(dest) == {policy.POLICY_FILE: b"registry_mirror: evil.example/hub\n"}


def test_without_an_org_policy_a_project_file_stands_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(policy.POLICY_ENV, raising=False)
    dest = project(tmp_path, "allow: {privileged: true}\nregistry_mirror: mirror.example\n")
    run_ok("policy", "audit", dest)


def test_every_policy_key_says_how_it_layers() -> None:
    merges = {"same", "union", "subset", "at_least", "at_most", "require", "forbid"}

    def leaves(spec: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
        return [item for key, entry in spec.items()
                for item in (leaves(entry["keys"], f"{prefix}{key}.") if entry["type"] == "map"
                             else [(prefix + key, entry.get("merge"))])]

    found = leaves(policy.schema())
    assert len(found) > 20 and all(merge in merges for _, merge in found), found


# --- item 14: UIDs are ASCII digits only ---------------------------------------------------------

# Superscript two, Arabic-Indic 10001, a trailing superscript, mathematical bold 10001: int() takes them all.
ODD_USERS = ["\u00b2", "\u0661\u0660\u0660\u0660\u0661", "10001\u00b2",
             "\U0001d7cf\U0001d7ce\U0001d7ce\U0001d7ce\U0001d7cf", "1e4", "0x2711", "+10001", "99999999999999999999",
             "$UID"]


@pytest.fixture
def uid_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(policy.POLICY_ENV, raising=False)
    (tmp_path / policy.POLICY_FILE).write_text("uid_range: {min: 10000, max: 65532}\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("user", ODD_USERS)
def test_an_odd_user_in_a_dockerfile_is_a_violation_not_a_traceback(uid_policy: Path, user: str) -> None:
    dockerfile = uid_policy / "Dockerfile"
    dockerfile.write_text(f"FROM debian:12\nUSER {user}\n", encoding="utf-8")
    result = run_cli("check", dockerfile, "--format", "json")
    assert result.exit_code == 1 and result.stderr == "", result.stderr
    findings = json.loads(result.stdout)["files"][0]["findings"]
    assert [f["line"] for f in findings if f["rule"] == "POL004"] == [2]
    audit = run_cli("policy", "audit", uid_policy)
    assert audit.exit_code == 1 and "POL004" in audit.stdout and audit.stderr == ""


@pytest.mark.parametrize("user", [*ODD_USERS, " 10001", "10001 ", 10001.0, True, ["10001"]])
def test_an_odd_compose_user_is_a_violation_not_a_traceback(uid_policy: Path, user: object) -> None:
    (uid_policy / "compose.yaml").write_text(json.dumps({"services": {"web": {"image": "x", "user": user}}}),
                                             encoding="utf-8")
    result = run_cli("policy", "audit", uid_policy, "--format", "json")
    assert result.exit_code == 1 and result.stderr == "", result.stderr
    assert [v["rule"] for v in json.loads(result.stdout)["violations"]] == ["POL004"]


def test_a_plain_numeric_uid_still_passes(uid_policy: Path) -> None:
    (uid_policy / "Dockerfile").write_text("FROM debian:12\nUSER 10001:10001\n", encoding="utf-8")
    run_ok("policy", "audit", uid_policy)
