"""The org policy in `hardcase check` and `hardcase harden` (issue 6): Dockerfile-level policy violations
are findings with their POLxxx rule IDs (severity error) in text, JSON and SARIF, and fail the check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harden_support import check_imports
from scaffold_support import assert_one_line_error, run_cli

from generator.audit.rules import RULES
from generator.cli.check import fast_main
from generator.policy import files as policy
from generator.policy import findings as check_policy

POLICY = "allowed_registries: [registry.corp.example]\nbanned_instructions: [ADD]\n"
# Clean for the HC rules at --fail-on error; breaks POL001 (docker.io) on line 1 and POL012 (ADD) on line 3.
DOCKERFILE = (
    "FROM debian:12-slim@sha256:88200866dfff7ea7f5cbcb6ec7c8a701889efe6fe859fe64d6990e4b07ea4171\n"
    "RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} +\n"
    "ADD app.tar.gz /opt/\n"
    "USER 10001:10001\n"
    'CMD ["/opt/app"]\n'
)
POL_FINDINGS = [("POL001", 1), ("POL012", 3)]


@pytest.fixture(autouse=True)
def _no_org_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(policy.POLICY_ENV, raising=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with its own policy one directory above the Dockerfile (found upward)."""
    (tmp_path / policy.POLICY_FILE).write_text(POLICY, encoding="utf-8")
    (tmp_path / "svc").mkdir()
    dockerfile = tmp_path / "svc" / "Dockerfile"
    dockerfile.write_text(DOCKERFILE, encoding="utf-8")
    return dockerfile


def pol(findings: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(f["rule"], f["line"]) for f in findings if str(f["rule"]).startswith("POL")]


def test_text_reports_pol_ids_and_fails(project: Path) -> None:
    result = run_cli("check", project, "--fail-on", "error")
    assert result.exit_code == 1, result.stdout
    policy_file = project.parent.parent / policy.POLICY_FILE
    assert (f"{project}:3 POL012 error: instruction ADD is banned (policy {policy_file}) "
            "(policy-banned-instructions)\n") in result.stdout
    assert f"{project}:1 POL001 error: registry docker.io of debian:12-slim" in result.stdout


def test_json_reports_pol_ids(project: Path) -> None:
    result = run_cli("check", project, "--format", "json")
    assert result.exit_code == 1
    (file,) = json.loads(result.stdout)["files"]
    assert pol(file["findings"]) == POL_FINDINGS
    ban = next(f for f in file["findings"] if f["rule"] == "POL012")
    assert ban | {"message": ""} == {"rule": "POL012", "name": "policy-banned-instructions", "severity": "error",
                                     "line": 3, "column": None, "message": "", "cis": None, "hadolint": None,
                                     "fix": "none"}


def test_sarif_lists_the_pol_rules(project: Path) -> None:
    result = run_cli("check", project, "--format", "sarif")
    assert result.exit_code == 1
    (run,) = json.loads(result.stdout)["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.id for r in RULES] + ["POL001", "POL012"]
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
    assert [(r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["region"]["startLine"])
            for r in run["results"] if r["ruleId"].startswith("POL")] == [("POL001", "error", 1),
                                                                          ("POL012", "error", 3)]
    ban = rules[-1]
    assert ban["defaultConfiguration"]["level"] == "error" and "policy" in ban["properties"]["tags"]
    assert ban["shortDescription"]["text"] and ban["helpUri"].startswith("https://")


def test_without_a_policy_nothing_changes(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(DOCKERFILE, encoding="utf-8")
    result = run_cli("check", dockerfile, "--fail-on", "error")
    assert result.exit_code == 0 and "POL" not in result.stdout
    sarif = json.loads(run_cli("check", dockerfile, "--format", "sarif").stdout)
    assert [r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]] == [r.id for r in RULES]


def test_explicit_policy_file(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(DOCKERFILE, encoding="utf-8")
    org = tmp_path / "elsewhere" / "org.yaml"
    org.parent.mkdir()
    org.write_text("banned_instructions: [ADD]\n", encoding="utf-8")
    result = run_cli("check", dockerfile, "--policy", org, "--format", "json")
    assert result.exit_code == 1
    assert pol(json.loads(result.stdout)["files"][0]["findings"]) == [("POL012", 3)]
    # --policy replaces the discovered ones (as for `policy audit`)
    (tmp_path / policy.POLICY_FILE).write_text(POLICY, encoding="utf-8")
    result = run_cli("check", dockerfile, "--policy", org, "--format", "json")
    assert pol(json.loads(result.stdout)["files"][0]["findings"]) == [("POL012", 3)]
    assert_one_line_error(run_cli("check", dockerfile, "--policy", tmp_path / "missing.yaml"), 2)
    bad = tmp_path / "bad.yaml"
    bad.write_text("banned_instructions: [NOPE]\n", encoding="utf-8")
    assert_one_line_error(run_cli("check", dockerfile, "--policy", bad), 2, mentions="NOPE")


def test_org_policy_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(DOCKERFILE, encoding="utf-8")
    org = tmp_path / "org.yaml"
    org.write_text("allowed_registries: [registry.corp.example]\n", encoding="utf-8")
    monkeypatch.setenv(policy.POLICY_ENV, str(org))
    result = run_cli("check", dockerfile, "--format", "json")
    assert result.exit_code == 1
    assert pol(json.loads(result.stdout)["files"][0]["findings"]) == [("POL001", 1)]
    # the org default and the project file are both enforced; the same violation is reported once
    (tmp_path / policy.POLICY_FILE).write_text(POLICY, encoding="utf-8")
    result = run_cli("check", dockerfile, "--format", "json")
    assert pol(json.loads(result.stdout)["files"][0]["findings"]) == POL_FINDINGS


def test_policy_findings_cannot_be_ignored(project: Path) -> None:
    (project.parent / ".hardcase-check.yaml").write_text("ignore: [POL012]\n", encoding="utf-8")
    assert_one_line_error(run_cli("check", project, "--config", project.parent / ".hardcase-check.yaml"), 2,
                          mentions="POL012")
    project.write_text(DOCKERFILE.replace("ADD", "# hardcase ignore=POL012\nADD"), encoding="utf-8")
    report = json.loads(run_cli("check", project, "--format", "json").stdout)
    assert ("POL012", 4) in pol(report["files"][0]["findings"])


def test_fast_path_reports_policy_too(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert fast_main([str(project), "--format", "json"]) == 1
    assert pol(json.loads(capsys.readouterr().out)["files"][0]["findings"]) == POL_FINDINGS
    assert fast_main([str(project), "--policy", str(project.parent.parent / policy.POLICY_FILE)]) == 1
    assert "POL012" in capsys.readouterr().out


def test_harden_reports_remaining_policy_violations(project: Path) -> None:
    result = run_cli("harden", project, "--format", "json")
    assert result.exit_code == 0  # harden fixes what it can; it does not fail on what is left
    report = json.loads(result.stderr)
    assert pol(report["files"][0]["findings"]) == POL_FINDINGS
    text = run_cli("harden", project).stderr
    assert "POL012 error: instruction ADD is banned" in text and "[not fixed: review by hand]" in text
    clean = project.parent / "clean.Dockerfile"
    clean.write_text(DOCKERFILE.replace("ADD app.tar.gz", "COPY app"), encoding="utf-8")
    org = project.parent / "org.yaml"
    org.write_text("banned_instructions: [ADD]\n", encoding="utf-8")
    assert "POL" not in run_cli("harden", clean, "--policy", org).stderr


def test_check_with_a_policy_still_imports_no_policy_modules_without_one(tmp_path: Path) -> None:
    """With a policy in sight the policy modules load; without one, `check` does not import them."""
    (tmp_path / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    def loaded() -> list[str]:
        return check_imports(tmp_path / "Dockerfile", ("generator.policy.files", "generator.policy.rules", "pathlib",
                                                       "typing"))[1]

    assert loaded() == []
    (tmp_path / policy.POLICY_FILE).write_text(POLICY, encoding="utf-8")
    assert {"generator.policy.files", "generator.policy.rules"} <= set(loaded())


def test_constants_agree() -> None:
    assert (check_policy.POLICY_FILE, check_policy.POLICY_ENV) == (policy.POLICY_FILE, policy.POLICY_ENV)
    assert {check_policy.policy_rule(rule.id).id for rule in policy.rules()} == {rule.id for rule in policy.rules()}
