"""The Dockerfile rule registry (HC0xx): every rule is a record, and its ID is stable and never reused.

A rule (`generator.audit.model.Rule`) says what it checks (`check` yields `Violation`s), whether it
can fix (`fix`, separate from the check so `hardcase check` never computes edits) and how safe its
fix is. Its documentation is the check function's docstring, with fixed sections that
`scripts/rules_table.py` and a test read. Suppression and config ignores live in the engine
(`generator.audit.lint`), never in a rule. Rule modules import `model`, `dockerfile` and `_support`
only: a rule gets what it needs passed in (the package resolver of HC048 is set by the caller),
never the policy checker or network code.
"""

from __future__ import annotations

from generator.audit.model import Rule


def _load() -> tuple[Rule, ...]:
    from generator.audit.rules import (
        base,
        commands,
        downloads,
        packages_apk_yum,
        packages_apt,
        packages_lang,
        pins,
        runtime,
        secrets,
        shell,
        stages,
        user,
    )

    # ID order is also the order fixes are tried in when two want the same bytes in one pass.
    rules = tuple(sorted((*user.RULES, *base.RULES, *secrets.RULES, *packages_apt.RULES, *packages_apk_yum.RULES,
                          *packages_lang.RULES, *pins.RULES, *commands.RULES, *downloads.RULES,
                          *runtime.RULES, *shell.RULES, *stages.RULES), key=lambda rule: rule.id))
    seen: set[str] = set()
    for rule in rules:
        assert rule.id not in seen, f"duplicate rule id {rule.id}"
        seen.add(rule.id)
    return rules


RULES: tuple[Rule, ...] = _load()
RULE_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}
