"""SARIF 2.1.0 as GitHub code scanning reads it: the rules in tool.driver.rules, one result per
finding with its rule, level and file/line location."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import __version__
from .report import FileReport, rule_of
from .rules import HELP_URI, PROJECT_URL, RULES, Rule, Severity

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note", Severity.STYLE: "note"}


def _uri(path: str) -> str:
    candidate = Path(path)
    return candidate.as_uri() if candidate.is_absolute() else candidate.as_posix()


def _rule(rule: Rule) -> dict[str, Any]:
    summary = rule.doc.split("\n\n", 1)[0].removeprefix("What it does:").strip().replace("\n", " ")
    tags = ["security", "dockerfile"] + ([f"CIS-{rule.cis}"] if rule.cis else [])
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.message},
        "fullDescription": {"text": summary},
        "helpUri": HELP_URI,
        "help": {"text": rule.doc},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"tags": tags, "cis": rule.cis, "hadolint": rule.hadolint},
    }


def render_sarif(reports: list[FileReport]) -> str:
    index = {rule.id: position for position, rule in enumerate(RULES)}
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
                                "rules": [_rule(rule) for rule in RULES]}},
            "results": results,
        }],
    }
    return json.dumps(log, indent=2) + "\n"
