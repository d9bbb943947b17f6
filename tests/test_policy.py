"""Org policy: the policy file's own check, each rule through `evaluate`, `new` refusing, `policy audit`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from scaffold_support import assert_one_line_error, files_under, preset_names, run_cli, run_ok

from generator.policy import files as policy
from generator.policy.rules import evaluate

STRICT = """\
version: 1
allowed_registries: ["docker.io", "gcr.io", "cgr.dev"]
allowed_base_images: ["python:*", "node:*", "golang:*", "debian:*", "gcr.io/distroless/*", "cgr.dev/chainguard/*",
                      "quay.io/distroless/*"]
required_labels: [org.opencontainers.image.title, org.opencontainers.image.base.name]
uid_range: {min: 10001, max: 65532}
require:
  read_only: true
  no_new_privileges: true
  cap_drop_all: true
  seccomp: true
  max_syscalls: 150
  localhost_ports: true
  pinned_base_images: true
allowed_cap_add: []
banned_instructions: [ADD, ONBUILD]
banned_packages: [curl, wget, "telnet*", left-pad, "@evil/*"]
"""

DIGEST = "sha256:" + "a" * 64
GOOD_DOCKERFILE = f"""\
FROM python:3.13-slim@{DIGEST} AS build
RUN python3 -m pip install --target /opt/deps -r requirements.txt
FROM gcr.io/distroless/python3-debian12:nonroot@{DIGEST}
LABEL org.opencontainers.image.title="svc" org.opencontainers.image.base.name="distroless"
COPY --from=build /opt/deps /opt/deps
USER 65532:65532
"""
GOOD_SERVICE: dict[str, Any] = {
    "build": {"context": "."},
    "user": "65532:65532",
    "read_only": True,
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true", "seccomp=seccomp.json"],
    "ports": ["127.0.0.1:8000:8000"],
}
SMALL_PROFILE = {"defaultAction": "SCMP_ACT_ERRNO",
                 "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]}


def strict(tmp_path: Path, text: str = STRICT) -> policy.Policy:
    path = tmp_path / "hardcase-policy.yaml"
    path.write_text(text, encoding="utf-8")
    return policy.load(path)


def compose(**changes: Any) -> dict[str, Any]:
    service = {**GOOD_SERVICE, **changes}
    return {"services": {"svc": {k: v for k, v in service.items() if v is not None}}}


# Each case: (rule expected, Dockerfile, compose data, seccomp profile). One case per way to break a rule.
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("POL001", GOOD_DOCKERFILE.replace("gcr.io/distroless", "quay.io/distroless"), compose(), SMALL_PROFILE),
    ("POL001", GOOD_DOCKERFILE.replace(f"gcr.io/distroless/python3-debian12:nonroot@{DIGEST}", "${BASE}"),
     compose(), SMALL_PROFILE),
    ("POL002", GOOD_DOCKERFILE.replace("python:3.13-slim", "ruby:3.3"), compose(), SMALL_PROFILE),
    ("POL003", GOOD_DOCKERFILE.replace("org.opencontainers.image.title", "title"), compose(), SMALL_PROFILE),
    ("POL004", GOOD_DOCKERFILE.replace("USER 65532:65532", "USER 1000"), compose(), SMALL_PROFILE),
    ("POL004", GOOD_DOCKERFILE.replace("USER 65532:65532", "USER app"), compose(), SMALL_PROFILE),
    ("POL004", GOOD_DOCKERFILE, compose(user="0:0"), SMALL_PROFILE),
    ("POL005", GOOD_DOCKERFILE, compose(read_only=None), SMALL_PROFILE),
    ("POL006", GOOD_DOCKERFILE, compose(security_opt=["seccomp=seccomp.json"]), SMALL_PROFILE),
    ("POL007", GOOD_DOCKERFILE, compose(cap_drop=["NET_RAW"]), SMALL_PROFILE),
    ("POL008", GOOD_DOCKERFILE, compose(security_opt=["no-new-privileges:true"]), SMALL_PROFILE),
    ("POL008+POL020", GOOD_DOCKERFILE, compose(security_opt=["no-new-privileges:true", "seccomp=seccomp.json",
                                                             "seccomp=${PROFILE}"]), SMALL_PROFILE),
    ("POL009", GOOD_DOCKERFILE, compose(),
     {"defaultAction": "SCMP_ACT_ERRNO",
      "syscalls": [{"names": [f"call{i}" for i in range(151)], "action": "SCMP_ACT_ALLOW"}]}),
    ("POL009", GOOD_DOCKERFILE, compose(), {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}),
    ("POL010", GOOD_DOCKERFILE, compose(cap_add=["NET_BIND_SERVICE"]), SMALL_PROFILE),
    ("POL011", GOOD_DOCKERFILE, compose(ports=["8000:8000"]), SMALL_PROFILE),
    ("POL011", GOOD_DOCKERFILE, compose(ports=[{"target": 8000, "published": 8000, "host_ip": "0.0.0.0"}]),
     SMALL_PROFILE),
    ("POL012", GOOD_DOCKERFILE + "ADD app.tar.gz /opt/\n", compose(), SMALL_PROFILE),
    ("POL012", GOOD_DOCKERFILE + "ONBUILD RUN true\n", compose(), SMALL_PROFILE),
    ("POL013", GOOD_DOCKERFILE.replace("-r requirements.txt", "-r requirements.txt telnetlib3==2.0"), compose(),
     SMALL_PROFILE),
    ("POL013", GOOD_DOCKERFILE + "RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.*\n",
     compose(), SMALL_PROFILE),
    ("POL013", GOOD_DOCKERFILE + 'RUN ["npm", "install", "--save", "left-pad@1.3.0"]\n', compose(), SMALL_PROFILE),
    ("POL013", GOOD_DOCKERFILE + "RUN apk add --no-cache wget && npm i @evil/pkg\n", compose(), SMALL_PROFILE),
    ("POL014", GOOD_DOCKERFILE.replace(f"python:3.13-slim@{DIGEST}", "python:3.13-slim"), compose(), SMALL_PROFILE),
    # Host escapes: forbidden under every policy unless `allow` lists them (more in test_safety_policy_compose.py).
    ("POL015", GOOD_DOCKERFILE, compose(privileged=True), SMALL_PROFILE),
    ("POL016", GOOD_DOCKERFILE, compose(pid="host"), SMALL_PROFILE),
    ("POL017", GOOD_DOCKERFILE, compose(volumes=["/var/run/docker.sock:/var/run/docker.sock:ro"]), SMALL_PROFILE),
    ("POL018", GOOD_DOCKERFILE, compose(devices=["/dev/sda:/dev/sda"]), SMALL_PROFILE),
    ("POL019+POL010", GOOD_DOCKERFILE, compose(cap_add=["SYS_ADMIN"]), SMALL_PROFILE),  # STRICT allows no cap_add
    ("POL020", GOOD_DOCKERFILE, compose(security_opt=["no-new-privileges:true", "seccomp=seccomp.json",
                                                      "apparmor=unconfined"]), SMALL_PROFILE),
]


def test_the_strict_policy_is_valid_and_the_good_project_complies(tmp_path: Path) -> None:
    loaded = strict(tmp_path)
    assert policy.check_file(loaded.source) == []
    assert evaluate(loaded, GOOD_DOCKERFILE, compose(), {"seccomp.json": SMALL_PROFILE}) == []


@pytest.mark.parametrize(("rule", "dockerfile_text", "compose_data", "profile"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_rule_catches_its_violation(tmp_path: Path, rule: str, dockerfile_text: str,
                                         compose_data: dict[str, Any], profile: dict[str, Any]) -> None:
    violations = evaluate(strict(tmp_path), dockerfile_text, compose_data, {"seccomp.json": profile})
    assert {v.rule for v in violations} == set(rule.split("+")), [v.line() for v in violations]
    assert all(v.key == policy.rule_keys()[v.rule] for v in violations)


def test_every_rule_in_the_schema_has_a_case() -> None:
    assert {rule for case in CASES for rule in case[0].split("+")} == set(policy.rule_keys())
    assert list(policy.rule_keys()) == [f"POL{n:03d}" for n in range(1, 21)]


def test_banned_packages_report_the_name_not_options_or_files(tmp_path: Path) -> None:
    text = GOOD_DOCKERFILE + "RUN pip install -r curl.txt --target /curl ./wget && apt-get install -y curl-dev\n"
    violations = evaluate(strict(tmp_path), text, None)
    assert violations == [], [v.line() for v in violations]


def test_missing_profile_is_a_violation_not_a_pass(tmp_path: Path) -> None:
    violations = evaluate(strict(tmp_path), None, compose())
    assert [(v.rule, v.value) for v in violations] == [("POL009", "seccomp.json")]


# --- hardcase policy check -----------------------------------------------------------------------


def test_policy_check_accepts_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(STRICT, encoding="utf-8")
    assert run_ok("policy", "check", path).stdout == f"{path}: ok\n"


def test_policy_check_reports_each_problem_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("allowed_registries: docker.io\nrequire: {read_onyl: true, max_syscalls: many}\n"
                    "uid_range: {min: 1.5}\nbogus: 1\n", encoding="utf-8")
    result = run_cli("policy", "check", path)
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines == [
        f"{path}: allowed_registries: expected a list of strings, got str 'docker.io'",
        f"{path}: require.read_onyl: unknown key (known: read_only, no_new_privileges, cap_drop_all, seccomp, "
        "max_syscalls, localhost_ports, pinned_base_images)",
        f"{path}: require.max_syscalls: expected an integer, got str 'many'",
        f"{path}: uid_range.min: expected an integer, got float 1.5",
        f"{path}: bogus: unknown key (known: version, allowed_registries, allowed_base_images, registry_mirror, "
        "required_labels, uid_range, require, allowed_cap_add, banned_instructions, banned_packages, allow)",
    ]


def test_policy_check_reports_values_that_make_no_sense(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("uid_range: {min: 0, max: 10}\nbanned_instructions: [ADDD]\nregistry_mirror: 'Bad Mirror'\n",
                    encoding="utf-8")
    result = run_cli("policy", "check", path)
    assert result.exit_code == 2
    assert len(result.stdout.splitlines()) == 3
    assert "uid_range.min" in result.stdout and "'ADDD'" in result.stdout and "registry_mirror" in result.stdout


def test_policy_rules_lists_every_id() -> None:
    lines = run_ok("policy", "rules").stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(policy.rule_keys())
    assert "POL005  require.read_only" in lines


# --- new refuses, mirrors, org default -----------------------------------------------------------


def test_new_refuses_a_rendering_that_violates_the_project_policy(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    dest.mkdir()
    (dest / "hardcase-policy.yaml").write_text("allowed_registries: [registry.corp.example]\n", encoding="utf-8")
    result = run_cli("new", dest, "--preset", "go-stdlib", "--no-input")
    message = assert_one_line_error(result, 1, mentions="POL001")
    assert "allowed_registries" in message and "docker.io" in message and "nothing written" in message
    assert files_under(dest) == {"hardcase-policy.yaml": b"allowed_registries: [registry.corp.example]\n"}


def test_policy_mirror_is_applied_and_then_allowed(tmp_path: Path) -> None:
    rules = tmp_path / "org.yaml"
    rules.write_text("registry_mirror: registry.corp.example/hub\nallowed_registries: [registry.corp.example]\n",
                     encoding="utf-8")
    dest = tmp_path / "svc"
    run_ok("new", dest, "--preset", "go-stdlib", "--no-input", "--policy", rules)
    froms = [line for line in (dest / "Dockerfile").read_text().splitlines() if line.startswith("FROM ")]
    assert froms and all(line.startswith("FROM registry.corp.example/hub/") for line in froms)


def test_org_default_cannot_be_loosened_by_a_project_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    org = tmp_path / "org.yaml"
    org.write_text("uid_range: {min: 10001, max: 20000}\n", encoding="utf-8")
    monkeypatch.setenv("HARDCASE_POLICY", str(org))
    dest = tmp_path / "svc"
    dest.mkdir()
    (dest / "hardcase-policy.yaml").write_text("uid_range: {min: 1, max: 65535}\n", encoding="utf-8")
    # A project file that loosens the org's range is refused outright (issue #11: only tightening).
    assert_one_line_error(run_cli("new", dest, "--preset", "python-fastapi", "--no-input"), 2,
                          mentions="uid_range.min: 1 is below the org's 10001")
    (dest / "hardcase-policy.yaml").write_text("uid_range: {min: 10001, max: 15000}\n", encoding="utf-8")
    message = assert_one_line_error(run_cli("new", dest, "--preset", "python-fastapi", "--no-input"), 1,
                                    mentions="POL004")
    assert "65532" in message and str(org) in message
    # slim images run as 10001: inside the org's range.
    run_ok("new", dest, "--preset", "python-fastapi", "--no-input", "--set", "flavour=slim")


def test_new_with_an_invalid_policy_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("require: {read_only: yes-please}\n", encoding="utf-8")
    assert_one_line_error(run_cli("new", tmp_path / "svc", "--no-input", "--policy", bad), 2,
                          mentions="require.read_only")
    assert not (tmp_path / "svc").exists()


# --- policy audit --------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_complies_with_the_strict_policy(tmp_path: Path, preset: str) -> None:
    (tmp_path / "hardcase-policy.yaml").write_text(STRICT.replace("10001", "10000"), encoding="utf-8")
    dest = tmp_path / "services" / preset
    run_ok("new", dest, "--preset", preset, "--no-input", "--with-app")
    result = run_ok("policy", "audit", dest)  # found upward, two levels up
    assert result.stdout == f"{dest}: complies with the policy\n"


def test_audit_reports_ids_in_text_and_json_and_exits_1(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    run_ok("new", dest, "--preset", "node-express", "--no-input")
    compose_path = dest / "compose.yaml"
    text = compose_path.read_text().replace("      - ALL\n", "      - NET_RAW\n").replace('"127.0.0.1:', '"')
    compose_path.write_text(text)
    (dest / "Dockerfile").write_text((dest / "Dockerfile").read_text() + "ADD https://example.com/x /x\n")
    rules = tmp_path / "p.yaml"
    rules.write_text(STRICT, encoding="utf-8")
    result = run_cli("policy", "audit", dest, "--policy", rules)
    assert result.exit_code == 1, result.stderr
    rules_seen = [line.split(": ")[1].split()[0] for line in result.stdout.splitlines()[:-1]]
    assert rules_seen == ["POL012", "POL007", "POL011"]
    assert result.stdout.splitlines()[-1] == "3 policy violation(s)"
    report = json.loads(run_cli("policy", "audit", dest, "--policy", rules, "--format", "json").stdout)
    assert [(v["rule"], v["key"], v["value"]) for v in report["violations"]] == [
        ("POL012", "banned_instructions", "ADD"),
        ("POL007", "require.cap_drop_all", "NET_RAW"),
        ("POL011", "require.localhost_ports", "3000:3000"),
    ]


def test_audit_without_any_policy_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARDCASE_POLICY", raising=False)
    dest = tmp_path / "svc"
    run_ok("new", dest, "--preset", "go-stdlib", "--no-input")
    assert_one_line_error(run_cli("policy", "audit", dest), 2, mentions="no policy")


def test_the_readme_rule_table_is_the_schema() -> None:
    from scaffold_support import REPO

    assert policy.rule_table() in (REPO / "README.md").read_text(encoding="utf-8")
