"""Print the README's rule table from the registries, Dockerfile rules then compose rules
(`python scripts/rules_table.py`)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generator.audit.compose_rules import COMPOSE_RULES
from generator.audit.rules import RULES


def table() -> str:
    lines = ["| ID | name | severity | CIS | hadolint | fix | what it checks |", "|---|---|---|---|---|---|---|"]
    for rule in (*RULES, *COMPOSE_RULES):
        summary = rule.doc.split("\n\n", 1)[0].removeprefix("What it does:").strip().replace("\n", " ")
        fix = rule.fix_safety.value if rule.fix_safety else "flag only"
        lines.append(f"| {rule.id} | `{rule.name}` | {rule.severity.value} | {rule.cis or ''} | "
                     f"{rule.hadolint or ''} | {fix} | {summary} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(table())
