"""JSON for machines: stable keys, one object per file."""

from __future__ import annotations

import json
from typing import Any

from generator.audit.report.model import FileReport, fix_state, rule_of


def _finding(violation: Any) -> dict[str, Any]:
    rule = rule_of(violation)
    return {
        "rule": rule.id, "name": rule.name, "severity": rule.severity.value, "line": violation.line,
        "column": violation.column, "message": violation.message, "cis": rule.cis, "hadolint": rule.hadolint,
        "fix": fix_state(violation),
    }


def _pin(pin: Any) -> dict[str, str]:
    return {"manager": pin.manager, "context": pin.context, "package": pin.package, "version": pin.version,
            "source": pin.source}


def render_json(reports: list[FileReport]) -> str:
    data = {
        "version": 1,
        "files": [
            {
                "path": report.path,
                "findings": [_finding(v) for v in report.findings],
                "fixed": [{**_finding(a.violation), "fix": a.fix.safety.value, "change": a.fix.note}
                          for a in report.fixed],
                **({"package_versions": [_pin(pin) for pin in report.pins]} if report.pins else {}),
            }
            for report in reports
        ],
    }
    return json.dumps(data, indent=2) + "\n"
