"""SARIF 2.1.0 as GitHub code scanning reads it: the rules in tool.driver.rules, one result per
finding with its rule, level and file/line location. The org policy rules (POLxxx) that have
findings follow the HC rules in tool.driver.rules (only those, so a run without a policy is
unchanged)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from generator import __version__
from generator.audit.compose_rules import COMPOSE_RULES
from generator.audit.model import HELP_URI, PROJECT_URL, ComposeRule, Rule, Severity
from generator.audit.report.model import FileReport, rule_of
from generator.audit.rules import RULE_BY_ID, RULES

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
POLICY_HELP_URI = f"{PROJECT_URL}/blob/main/README.md#1-a-policy"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note", Severity.STYLE: "note"}


def _uri(path: str) -> str:
    candidate = Path(path)
    return candidate.as_uri() if candidate.is_absolute() else candidate.as_posix()


def _rule(rule: Rule | ComposeRule) -> dict[str, Any]:
    summary = rule.doc.split("\n\n", 1)[0].removeprefix("What it does:").strip().replace("\n", " ")
    compose = isinstance(rule, ComposeRule)
    policy = rule.id not in RULE_BY_ID and not compose
    tags = (["security", "compose" if compose else "dockerfile"] + ([f"CIS-{rule.cis}"] if rule.cis else [])
            + (["policy"] if policy else []))
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.message},
        "fullDescription": {"text": summary},
        "helpUri": POLICY_HELP_URI if policy else HELP_URI,
        "help": {"text": rule.doc},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"tags": tags, "cis": rule.cis, "hadolint": rule.hadolint},
    }


def _pins_property(reports: list[FileReport]) -> dict[str, Any]:
    """The package versions harden wrote (HC048), as a run property: SARIF has no place of its own
    for them, and a run without pins stays unchanged."""
    pins = [{"uri": _uri(report.path), "manager": pin.manager, "context": pin.context, "package": pin.package,
             "version": pin.version, "source": pin.source} for report in reports for pin in report.pins]
    return {"properties": {"hardcase/packageVersions": pins}} if pins else {}


def render_sarif(reports: list[FileReport]) -> str:
    policy_rules = sorted({rule_of(v).id: rule_of(v) for r in reports for v in r.findings
                           if v.rule_id not in RULE_BY_ID and not isinstance(rule_of(v), ComposeRule)}.values(),
                          key=lambda rule: rule.id)
    # Compose rules are listed when a compose file was checked, so a Dockerfile-only run is unchanged.
    compose_rules: tuple[ComposeRule, ...] = ()
    if any(report.kind == "compose" for report in reports):
        compose_rules = COMPOSE_RULES
    rules: list[Rule | ComposeRule] = [*RULES, *compose_rules, *policy_rules]
    index = {rule.id: position for position, rule in enumerate(rules)}
    results = []
    for report in reports:
        for violation in report.findings:
            rule = rule_of(violation)
            region: dict[str, int] = {"startLine": violation.line}
            if violation.column:
                region["startColumn"] = violation.column
            results.append({
                "ruleId": rule.id,
                "ruleIndex": index[rule.id],
                "level": LEVELS[rule.severity],
                "message": {"text": violation.message},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(report.path)},
                                                    "region": region}}],
            })
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "hardcase", "version": __version__, "informationUri": PROJECT_URL,
                                "rules": [_rule(rule) for rule in rules]}},
            "results": results,
            **_pins_property(reports),
        }],
    }
    return json.dumps(log, indent=2) + "\n"
