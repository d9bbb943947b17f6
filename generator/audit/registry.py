"""Which rule a finding belongs to, whatever flow produced it.

Dockerfile rules (HC0xx) and compose rules (HC1xx, loaded only when asked for) are built in. Other
flows add their own IDs through `register`: the org policy registers its POLxxx rules when its
findings module is loaded, so a report can describe every finding it is given while the rule
registries never import the policy checker.
"""

from __future__ import annotations

from collections.abc import Callable

from generator.audit.model import ComposeRule, Rule
from generator.audit.rules import RULE_BY_ID

_SOURCES: dict[str, Callable[[str], Rule]] = {}


def register(prefix: str, lookup: Callable[[str], Rule]) -> None:
    """Rules whose IDs start with `prefix` are answered by `lookup` (which raises KeyError when it has none)."""
    _SOURCES[prefix] = lookup


def rule_for(rule_id: str) -> Rule | ComposeRule:
    """The rule of a finding: a Dockerfile rule, a compose rule, or one a flow registered."""
    rule = RULE_BY_ID.get(rule_id)
    if rule is not None:
        return rule
    if rule_id.startswith("HC1"):
        from generator.audit.compose_rules import COMPOSE_RULE_BY_ID

        if rule_id in COMPOSE_RULE_BY_ID:
            return COMPOSE_RULE_BY_ID[rule_id]
    for prefix, lookup in _SOURCES.items():
        if rule_id.startswith(prefix):
            return lookup(rule_id)
    raise KeyError(rule_id)
