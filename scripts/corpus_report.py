"""Findings before and after `hardcase harden` over the legacy corpus (tests/corpus), by rule.

Usage: python scripts/corpus_report.py [--per-file]

Hardens every corpus file three times into a temporary directory — safe fixes only, with
--unsafe-fixes, and with --unsafe-fixes --package-versions tests/corpus/package-versions.yaml (the
versions scripts/record_package_versions.py recorded: no network needed) — and prints Markdown
tables: hadolint's findings (no configuration) before and after, by rule, with the share removed by
the last — overall (issue 4's 90 % target), and without hadolint's version-pin rules
(VERSION_PIN_RULES); then hardcase's own findings (`hardcase check --format json`) the same way.
Run it from anywhere; it uses the hardcase in this checkout.
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
    PACKAGE_VERSIONS,
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


FLAVOURS = ("safe", "unsafe", "pinned")  # harden; --unsafe-fixes; --unsafe-fixes --package-versions


def by_rule_table(*found: dict[str, list[str]]) -> str:
    """FOUND: before, then after each of FLAVOURS; "removed" is the share the last one removed."""
    counts = [count_by_rule(f) for f in found]
    rules = sorted(set().union(*counts))
    rows: list[tuple[object, ...]] = [
        (f"{rule} (version pin)" if rule in VERSION_PIN_RULES else rule, *(c.get(rule, 0) for c in counts),
         percent(counts[0].get(rule, 0), counts[-1].get(rule, 0)))
        for rule in rules]
    if any(rule in VERSION_PIN_RULES for rule in rules):
        others = [split_pins(c)[1] for c in counts]
        rows.append(("**total without version pins**", *others, percent(others[0], others[-1])))
    totals = [sum(c.values()) for c in counts]
    rows.append(("**total**", *totals, percent(totals[0], totals[-1])))
    return table(rows, ("rule", "before", "after (safe)", "after (--unsafe-fixes)",
                        "after (--unsafe-fixes --package-versions)", "removed"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-file", action="store_true", help="also print one row per corpus file")
    args = parser.parse_args()
    dirs = corpus_dirs()
    with tempfile.TemporaryDirectory(prefix="hardcase-corpus-") as tmp:
        root = Path(tmp)
        originals = [d / "Dockerfile" for d in dirs]
        outputs: dict[str, list[Path]] = {flavour: [] for flavour in FLAVOURS}
        for directory in dirs:
            for flavour, collected in outputs.items():
                out = root / flavour / directory.name / "Dockerfile"
                out.parent.mkdir(parents=True)
                harden_file(directory / "Dockerfile", out, unsafe=flavour != "safe",
                            versions=PACKAGE_VERSIONS if flavour == "pinned" else None)
                collected.append(out)
        final = outputs[FLAVOURS[-1]]

        def by_name(found: dict[str, list[str]]) -> dict[str, list[str]]:
            return {Path(path).parent.name: codes for path, codes in found.items()}

        sets = (originals, *outputs.values())
        hadolint = [by_name(hadolint_findings(paths, root / "hadolint-home")) for paths in sets]
        hardcase = [by_name(hardcase_findings(paths)) for paths in sets]
        parsed = sum(parse_error(p.read_text(encoding="utf-8")) is None for p in final)
        non_root = sum(is_non_root(final_user(p.read_text(encoding="utf-8"))) for p in final)

    total_before = sum(map(len, hadolint[0].values()))
    total_after = sum(map(len, hadolint[-1].values()))
    (pins_before, other_before), (pins_after, other_after) = (split_pins(count_by_rule(hadolint[i])) for i in (0, -1))
    unpinned_pins = split_pins(count_by_rule(hadolint[-2]))[0]
    share = removed_share(other_before, other_after)
    print(f"# Corpus report: {len(dirs)} legacy Dockerfiles in {CORPUS.relative_to(REPO)}\n")
    print(f"- outputs that parse (BuildKit parser): {parsed}/{len(dirs)}")
    print(f"- outputs whose final stage has a non-root USER: {non_root}/{len(dirs)}")
    overall = removed_share(total_before, total_after)
    print(f"- hadolint findings, overall: {total_before} before, {total_after} after `harden --unsafe-fixes "
          f"--package-versions {PACKAGE_VERSIONS.relative_to(REPO)}`: "
          f"{overall:.1%} removed (issue 4's target {REQUIRED_REMOVED_SHARE:.0%}: "
          f"{'met' if overall >= REQUIRED_REMOVED_SHARE else 'NOT met'})")
    print(f"- hadolint findings without the version-pin rules ({', '.join(sorted(VERSION_PIN_RULES))}: they "
          f"need the package index): {other_before} before, {other_after} after: {share:.1%} removed "
          f"({'at least' if share >= REQUIRED_REMOVED_SHARE else 'under'} {REQUIRED_REMOVED_SHARE:.0%})")
    print(f"- hadolint version-pin findings: {pins_before} before, {unpinned_pins} after `--unsafe-fixes` alone, "
          f"{pins_after} with the package versions ({'not increased' if pins_after <= pins_before else 'INCREASED'};"
          " those left are apk/gem/yum packages, releases gone from their archive, packages after an added apt"
          " source and tags that name no release)\n")
    print("## hadolint 2.15 findings by rule (no configuration)\n")
    print(by_rule_table(*hadolint))
    print("\n## hardcase check findings by rule\n")
    print(by_rule_table(*hardcase))
    if args.per_file:
        print("\n## per file\n")
        rows = [(name, len(hadolint[0][name]), len(hadolint[-1][name]), len(hardcase[0][name]),
                 len(hardcase[-1][name])) for name in (d.name for d in dirs)]
        print(table(rows, ("file", "hadolint before", "hadolint after", "hardcase before", "hardcase after")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
