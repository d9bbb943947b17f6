"""Shared helpers for the `check`/`harden` tests: the per-rule YAML cases and the pipeline entry points."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ruamel.yaml import YAML

from generator.dockerfile import parse
from generator.fix import HardenResult, harden
from generator.lint import Config, check

RULE_CASES = Path(__file__).resolve().parent / "rules"


@dataclass(frozen=True)
class Case:
    rule: str
    kind: str  # pass, fail, fix
    number: int
    text: str
    expected: str | None = None  # fix: the expected output

    @property
    def id(self) -> str:
        return f"{self.rule}-{self.kind}-{self.number}"


@cache
def rule_cases() -> tuple[Case, ...]:
    cases: list[Case] = []
    for path in sorted(RULE_CASES.glob("HC0*.yaml")):
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        assert set(data) <= {"pass", "fail", "fix"}, path
        for kind in ("pass", "fail"):
            cases.extend(Case(path.stem, kind, n, text) for n, text in enumerate(data.get(kind) or []))
        cases.extend(Case(path.stem, "fix", n, item["in"], item["out"]) for n, item in enumerate(data.get("fix") or []))
    return tuple(cases)


def all_inputs() -> list[str]:
    """Every Dockerfile in the rule cases: inputs for whole-pipeline properties."""
    return sorted({case.text for case in rule_cases()} | {case.expected for case in rule_cases() if case.expected})


def rule_ids(text: str) -> set[str]:
    return {v.rule_id for v in check(parse(text), Config())}


def harden_text(text: str, unsafe: bool = True, config: Config | None = None) -> HardenResult:
    return harden(parse(text), config or Config(), unsafe=unsafe)
