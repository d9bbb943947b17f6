"""Plain text, one line per finding or change, as compilers and hadolint print them.

Paths and messages quote the input (image names, labels, file names), so each line goes through
`printable`: a control character or newline in them is shown escaped, never acted on.
"""

from __future__ import annotations

from generator.audit.report.model import FileReport, fix_state, rule_of
from generator.core.terminal import printable


def _cis(cis: str | None) -> str:
    return f", CIS {cis}" if cis else ""


def render_text(reports: list[FileReport], harden: bool = False) -> str:
    lines: list[str] = []
    for report in reports:
        for applied in report.fixed:
            rule = rule_of(applied.violation)
            lines.append(f"{report.path}:{applied.violation.line} fixed {rule.id} {rule.name} "
                         f"({applied.fix.safety.value}{_cis(rule.cis)}): {applied.fix.note or rule.message}")
        for pin in report.pins:
            context = f" {pin.context}" if pin.context else ""
            lines.append(f"{report.path}: package version {pin.manager}{context} {pin.package} {pin.version} "
                         f"(from {pin.source})")
        for violation in report.findings:
            rule = rule_of(violation)
            where = f"{report.path}:{violation.line}" + (f":{violation.column}" if violation.column else "")
            state = fix_state(violation)
            hint = ""
            if harden and state == "needs-review" and violation.fix is not None:
                hint = " [fix needs review: --unsafe-fixes]"
            elif harden and violation.fix is None:
                hint = " [not fixed: review by hand]"
            lines.append(f"{where} {rule.id} {rule.severity.value}: {violation.message} "
                         f"({rule.name}{_cis(rule.cis)}){hint}")
    findings = sum(len(r.findings) for r in reports)
    files = len(reports)
    if harden:
        fixed = sum(len(r.fixed) for r in reports)
        lines.append(f"{fixed} fix(es) applied, {findings} finding(s) left in {files} file(s)")
    else:
        lines.append(f"{findings} finding(s) in {files} file(s)" if findings else f"no findings in {files} file(s)")
    return "\n".join(printable(line) for line in lines) + "\n"
