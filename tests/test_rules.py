"""Every rule through the whole pipeline (parse → check → fix → re-parse), one YAML file of cases per rule
(tests/rules/HCxxx.yaml: `pass`, `fail`, `fix` with `in`/`out`), plus the rules' documentation contract."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from compose_support import compose_config_errors, compose_ids, compose_rule_cases, harden_compose
from harden_support import RULE_CASES, Case, harden_text, rule_cases, rule_ids

from generator.audit.compose import parse_compose
from generator.audit.compose_lint import check as check_compose
from generator.audit.compose_rules import COMPOSE_RULES
from generator.audit.dockerfile import parse
from generator.audit.lint import Config, check
from generator.audit.model import DOC_SECTIONS, ComposeRule, FixSafety, Rule, Severity
from generator.audit.rules import RULES

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("case", rule_cases(), ids=lambda c: c.id)
def test_rule_case(case: Case) -> None:
    if case.kind == "pass":
        assert case.rule not in rule_ids(case.text)
    elif case.kind == "fail":
        found = [v for v in check(parse(case.text), Config()) if v.rule_id == case.rule]
        assert found, f"{case.rule} does not catch:\n{case.text}"
        lines = len(case.text.splitlines())
        assert all(1 <= v.line <= lines for v in found)
    else:
        assert case.rule in rule_ids(case.text), "a fix case must start from a finding"
        result = harden_text(case.text, config=Config(select=frozenset({case.rule})), versions=case.versions)
        assert result.text == case.expected
        parse(result.text)
        if case.expected != case.text:
            assert case.rule not in rule_ids(result.text), "the fix must remove the finding"
            assert {a.violation.rule_id for a in result.applied} == {case.rule}


@pytest.mark.parametrize("case", compose_rule_cases(), ids=lambda c: c.id)
def test_compose_rule_case(case: Case, tmp_path: Path) -> None:
    """Compose rules through check and harden; every case, and every fix's output, is a file Compose accepts."""
    assert compose_config_errors(case.text, tmp_path) == "", "the case itself must be a valid compose file"
    if case.kind == "pass":
        assert case.rule not in compose_ids(case.text)
    elif case.kind == "fail":
        parsed = parse_compose(case.text)
        found = [v for v in check_compose(parsed, Config()) if v.rule_id == case.rule]
        assert found, f"{case.rule} does not catch:\n{case.text}"
        lines = case.text.splitlines()
        assert all(1 <= v.line <= len(lines) for v in found)
    else:
        assert case.rule in compose_ids(case.text), "a fix case must start from a finding"
        result = harden_compose(case.text, config=Config(select=frozenset({case.rule})), secrets_dir=tmp_path)
        assert result.text == case.expected
        assert compose_config_errors(result.text, tmp_path) == ""
        if case.expected != case.text:
            assert case.rule not in compose_ids(result.text), "the fix must remove the finding"
            assert {a.violation.rule_id for a in result.applied} == {case.rule}
        else:
            assert not result.applied


ALL_RULES: list[Rule | ComposeRule] = [*RULES, *COMPOSE_RULES]


def test_every_rule_has_cases() -> None:
    files = {path.stem for path in RULE_CASES.glob("HC*.yaml")}
    assert files == {rule.id for rule in ALL_RULES}
    for rule in RULES:
        kinds = {case.kind for case in rule_cases() if case.rule == rule.id}
        assert kinds == {"pass", "fail", "fix"}, rule.id
    for compose_rule in COMPOSE_RULES:
        kinds = {case.kind for case in compose_rule_cases() if case.rule == compose_rule.id}
        assert kinds == {"pass", "fail", "fix"}, compose_rule.id


def test_rule_records() -> None:
    names = [rule.name for rule in ALL_RULES]
    assert len(set(names)) == len(names)
    for rule in COMPOSE_RULES:
        assert re.fullmatch(r"HC1\d{2}", rule.id)
        assert rule.cis is not None
        assert rule.hadolint is None
    for rule in ALL_RULES:
        assert re.fullmatch(r"HC\d{3}", rule.id)
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name)
        assert isinstance(rule.severity, Severity)
        assert (rule.fix is None) == (rule.fix_safety is None), rule.id
        assert rule.cis is None or re.fullmatch(r"\d+\.\d+", rule.cis)
        assert rule.hadolint is None or re.fullmatch(r"DL\d{4}", rule.hadolint)
        assert "\n" not in rule.message


def _sections(doc: str) -> dict[str, str]:
    """Heading line (`What it does:`, `Why is this bad?`, …) → the text up to the next heading."""
    sections: dict[str, str] = {}
    current = None
    for line in doc.splitlines():
        if line.rstrip(":") in DOC_SECTIONS:
            current = line.rstrip(":")
            assert current not in sections, f"section {current} twice"
            sections[current] = ""
        elif current is not None:
            sections[current] += line + "\n"
        else:
            raise AssertionError(f"text before the first section: {line!r}")
    return sections


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_rule_docs_have_the_sections(rule: Rule | ComposeRule) -> None:
    sections = _sections(rule.doc)
    assert list(sections) == list(DOC_SECTIONS), rule.id
    assert all(body.strip() for body in sections.values()), rule.id
    fence = "```yaml" if isinstance(rule, ComposeRule) else "```dockerfile"
    assert fence in sections["Example"] and fence in sections["Use instead"]
    if rule.fix is None:
        assert sections["Fix safety"].strip().startswith("Not fixable"), rule.id
    else:
        assert rule.fix_safety is not None
        expected = "Safe" if rule.fix_safety is FixSafety.SAFE else "Needs review"
        assert sections["Fix safety"].strip().startswith(expected), rule.id


def test_readme_rule_table_is_current() -> None:
    table = subprocess.run([sys.executable, str(REPO / "scripts" / "rules_table.py")], capture_output=True, text=True,
                           check=True, cwd=REPO, env={"PYTHONPATH": str(REPO)}).stdout
    assert table.startswith("| ID |")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert table in readme, "README rule table is stale: run `python scripts/rules_table.py` and paste its output"
