"""Quality gates for every preset (with and without --with-app) and for the non-default variants:
hadolint, checkov, `docker-compose config` and the seccomp profile checks must all be clean."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from scaffold_support import Case, Generated, all_cases, compose_config, hadolint

from generator.profiles import seccomp, seccomp_check

MAX_ALLOWED_SYSCALLS = 150
CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hadolint_reports_nothing(case: Case, generate: Callable[[Case], Generated], tmp_path: Path) -> None:
    findings = hadolint(generate(case).dest / "Dockerfile", tmp_path)
    assert findings == [], json.dumps(findings, indent=1)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_checkov_has_no_failed_check(case: Case, checkov_report: dict[str, Any]) -> None:
    result = checkov_report["files"][case.id]
    failed = [(c["check_id"], c["check_name"]) for c in result["failed"]]
    assert failed == [], failed
    assert result["skipped"] == [], "a check was suppressed"
    # The file was really scanned: checkov ran its Dockerfile checks on it.
    assert result["passed"], f"checkov ran no check on {case.id}'s Dockerfile"


def test_checkov_parsed_every_file(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    assert summary["parsing_errors"] == 0, summary
    assert summary["failed"] == 0, summary
    assert summary["resource_count"] >= len(CASES), summary


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_compose_config_accepts_it(case: Case, generate: Callable[[Case], Generated]) -> None:
    proc = compose_config(generate(case).dest)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "", "config -q should print nothing"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_seccomp_profile_is_valid_and_tight(case: Case, generate: Callable[[Case], Generated]) -> None:
    project = generate(case)
    profile = json.loads((project.dest / "seccomp.json").read_text(encoding="utf-8"))
    assert seccomp_check.validate_profile(profile) == []
    assert seccomp_check.dangerous_allowed(profile) == []
    assert not set(seccomp.DANGEROUS) & allowed_names(profile)
    allowed = allowed_names(profile)
    assert 0 < len(allowed) <= MAX_ALLOWED_SYSCALLS, len(allowed)
    assert profile["defaultAction"] != "SCMP_ACT_ALLOW"


def allowed_names(profile: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for rule in profile.get("syscalls", []):
        if rule.get("action") == "SCMP_ACT_ALLOW":
            names.update(rule.get("names", []))
    return names
