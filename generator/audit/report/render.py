"""One entry point for every report format; each renderer is imported only when it is used."""

from __future__ import annotations

from generator.audit.report.model import FileReport, OutputFormat


def render(reports: list[FileReport], output: OutputFormat, harden: bool = False) -> str:
    if output is OutputFormat.JSON:
        from generator.audit.report.json import render_json

        return render_json(reports)
    if output is OutputFormat.SARIF:
        from generator.audit.report.sarif import render_sarif

        return render_sarif(reports)
    from generator.audit.report.text import render_text

    return render_text(reports, harden)
