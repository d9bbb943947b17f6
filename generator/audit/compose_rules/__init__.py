"""The compose rule registry (HC100-HC199): records like the Dockerfile rules, checked on services.

A compose rule's `check` yields `Violation`s whose `instruction` is the index of the service they
are about; its `fix` returns a `ComposeFix`, a change to the round-trip YAML tree (not a text
edit), applied by `generator.audit.compose_lint.harden`. Documentation is the check's docstring,
with the same sections as the Dockerfile rules. The records live in `generator.audit.model`, so
`check` on a Dockerfile can validate compose IDs without importing ruamel.
"""

from __future__ import annotations

from generator.audit.model import ComposeRule


def _load() -> tuple[ComposeRule, ...]:
    from generator.audit.compose_rules import (
        confinement,
        exposure,
        host_access,
        isolation,
        limits,
        runtime,
        secrets,
        supervision,
    )

    rules = tuple(sorted((*confinement.RULES, *isolation.RULES, *host_access.RULES, *runtime.RULES,
                          *supervision.RULES, *limits.RULES, *exposure.RULES, *secrets.RULES), key=lambda r: r.id))
    assert len({rule.id for rule in rules}) == len(rules), "duplicate compose rule id"
    return rules


COMPOSE_RULES: tuple[ComposeRule, ...] = _load()
COMPOSE_RULE_BY_ID: dict[str, ComposeRule] = {rule.id: rule for rule in COMPOSE_RULES}
