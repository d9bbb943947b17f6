"""Findings before and after `hardcase harden` over the legacy corpus (tests/corpus), by rule.

Usage: python scripts/corpus_report.py [--per-file]

Hardens every corpus file twice into a temporary directory — safe fixes only, and with
--unsafe-fixes — and prints Markdown tables: hadolint's findings (no configuration) before and
after, by rule, with the share removed — overall (issue 4's 90 % target), and without hadolint's
version-pin rules (VERSION_PIN_RULES: they need the package index); then
hardcase's own findings (`hardcase check --format json`) the same way. Run it from anywhere;
it uses the hardcase in this checkout.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.corpus_support import (  # noqa: E402 (needs the checkout on sys.path first)
    CORPUS,
    REQUIRED_REMOVED_SHARE,
    VERSION_PIN_RULES,
    corpus_dirs,
    count_by_rule,
    final_user,
    hadolint_findings,
    hardcase_findings,
    harden_file,
    is_non_root,
    parse_error,
    removed_share,
    split_pins,
    table,
)


def percent(before: int, after: int) -> str:
    return f"{removed_share(before, after):.0%}" if before else "—"


def by_rule_table(before: dict[str, list[str]], safe: dict[str, list[str]], unsafe: dict[str, list[str]]) -> str:
    counts = [count_by_rule(before), count_by_rule(safe), count_by_rule(unsafe)]
    rules = sorted(set().union(*counts))
    rows: list[tuple[object, ...]] = [
        (f"{rule} (version pin)" if rule in VERSION_PIN_RULES else rule, counts[0].get(rule, 0),
         counts[1].get(rule, 0), counts[2].get(rule, 0), percent(counts[0].get(rule, 0), counts[2].get(rule, 0)))
        for rule in rules]
    if any(rule in VERSION_PIN_RULES for rule in rules):
        others = [split_pins(c)[1] for c in counts]
        rows.append(("**total without version pins**", *others, percent(others[0], others[2])))
    totals = [sum(c.values()) for c in counts]
    rows.append(("**total**", *totals, percent(totals[0], totals[2])))
    return table(rows, ("rule", "before", "after (safe)", "after (--unsafe-fixes)", "removed"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-file", action="store_true", help="also print one row per corpus file")
    args = parser.parse_args()
    dirs = corpus_dirs()
    with tempfile.TemporaryDirectory(prefix="hardcase-corpus-") as tmp:
        root = Path(tmp)
        originals = [d / "Dockerfile" for d in dirs]
        safe_out: list[Path] = []
        unsafe_out: list[Path] = []
        for directory in dirs:
            for flavour, collected in (("safe", safe_out), ("unsafe", unsafe_out)):
                out = root / flavour / directory.name / "Dockerfile"
                out.parent.mkdir(parents=True)
                harden_file(directory / "Dockerfile", out, unsafe=flavour == "unsafe")
                collected.append(out)

        def by_name(found: dict[str, list[str]]) -> dict[str, list[str]]:
            return {Path(path).parent.name: codes for path, codes in found.items()}

        hadolint = [by_name(hadolint_findings(paths, root / "hadolint-home"))
                    for paths in (originals, safe_out, unsafe_out)]
        hardcase = [by_name(hardcase_findings(paths)) for paths in (originals, safe_out, unsafe_out)]
        parsed = sum(parse_error(p.read_text(encoding="utf-8")) is None for p in unsafe_out)
        non_root = sum(is_non_root(final_user(p.read_text(encoding="utf-8"))) for p in unsafe_out)

    total_before = sum(map(len, hadolint[0].values()))
    total_after = sum(map(len, hadolint[2].values()))
    (pins_before, other_before), (pins_after, other_after) = (split_pins(count_by_rule(hadolint[i])) for i in (0, 2))
    share = removed_share(other_before, other_after)
    print(f"# Corpus report: {len(dirs)} legacy Dockerfiles in {CORPUS.relative_to(REPO)}\n")
    print(f"- outputs that parse (BuildKit parser): {parsed}/{len(dirs)}")
    print(f"- outputs whose final stage has a non-root USER: {non_root}/{len(dirs)}")
    overall = removed_share(total_before, total_after)
    print(f"- hadolint findings, overall: {total_before} before, {total_after} after `harden --unsafe-fixes`: "
          f"{overall:.1%} removed (issue 4's target {REQUIRED_REMOVED_SHARE:.0%}: "
          f"{'met' if overall >= REQUIRED_REMOVED_SHARE else 'NOT met'})")
    print(f"- hadolint findings without the version-pin rules ({', '.join(sorted(VERSION_PIN_RULES))}: they "
          f"need the package index): {other_before} before, {other_after} after: {share:.1%} removed "
          f"({'at least' if share >= REQUIRED_REMOVED_SHARE else 'under'} {REQUIRED_REMOVED_SHARE:.0%})")
    print(f"- hadolint version-pin findings: {pins_before} before, {pins_after} after "
          f"({'not increased' if pins_after <= pins_before else 'INCREASED'})\n")
    print("## hadolint 2.15 findings by rule (no configuration)\n")
    print(by_rule_table(*hadolint))
    print("\n## hardcase check findings by rule\n")
    print(by_rule_table(*hardcase))
    if args.per_file:
        print("\n## per file\n")
        rows = [(name, len(hadolint[0][name]), len(hadolint[2][name]), len(hardcase[0][name]),
                 len(hardcase[2][name])) for name in (d.name for d in dirs)]
        print(table(rows, ("file", "hadolint before", "hadolint after", "hardcase before", "hardcase after")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
