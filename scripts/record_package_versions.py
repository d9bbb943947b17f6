"""Resolve the corpus' package versions online once and record them for the offline tests.

Usage: python scripts/record_package_versions.py [--output FILE] [--debian-mirror URL] [--ubuntu-mirror URL]

Hardens every corpus Dockerfile (tests/corpus) with `--unsafe-fixes` and the online resolver
(`hardcase harden --pin-packages`: the Debian and Ubuntu archives, PyPI, the npm registry), and writes every
version it resolved to tests/corpus/package-versions.yaml, the `--package-versions` file the corpus
test and scripts/corpus_report.py use. What could not be resolved is printed with the reason.
Rerun it to refresh the recorded versions; needs network access.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from generator.audit.fix import harden  # noqa: E402 (needs the checkout on sys.path first)
from generator.audit.lint import Config, read_dockerfile  # noqa: E402
from generator.audit.packages.index import OnlineResolver  # noqa: E402
from generator.audit.packages.versions import ANY_PYTHON  # noqa: E402
from generator.audit.rules.pins import active  # noqa: E402

CORPUS = REPO / "tests" / "corpus"


def render(resolver: OnlineResolver) -> str:
    sections: dict[str, dict[str, dict[str, str]]] = {}
    for request, answer in resolver.answers.items():
        if answer.version is None:
            continue
        context = request.context or (ANY_PYTHON if request.manager == "pip" else "")
        sections.setdefault(request.manager, {}).setdefault(context, {})[request.name] = answer.version
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    lines = [f"# Package versions for the corpus (tests/corpus), resolved online on {today} by",
             "# scripts/record_package_versions.py: apt from " + resolver.debian_mirror.rstrip("/")
             + " (main, -updates, -security)",
             f"# and {resolver.ubuntu_mirror.rstrip('/')} (main, universe, restricted, multiverse; -updates;",
             f"# -security from {resolver.ubuntu_security_mirror.rstrip('/')}),",
             f"# pip from {resolver.pypi_url}, npm from {resolver.npm_registry}.",
             "# Schema: generator/package_versions.py."]
    for manager in ("apt", "pip", "npm"):
        if manager not in sections:
            continue
        lines.append(f"{manager}:")
        for context, packages in sorted(sections[manager].items()):
            indent = "  "
            if manager != "npm":
                lines.append(f"  {json.dumps(context)}:")
                indent = "    "
            lines.extend(f"{indent}{json.dumps(name)}: {json.dumps(version)}"
                         for name, version in sorted(packages.items()))
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=CORPUS / "package-versions.yaml")
    parser.add_argument("--debian-mirror", default=None, metavar="URL")
    parser.add_argument("--ubuntu-mirror", default=None, metavar="URL")
    args = parser.parse_args()
    resolver = OnlineResolver.from_environment(args.debian_mirror, args.ubuntu_mirror)
    for path in sorted(CORPUS.glob("*/Dockerfile")):
        with active(resolver):
            result = harden(read_dockerfile(path), Config(), unsafe=True)
        for violation in result.remaining:
            if violation.rule_id == "HC048":
                print(f"{path.parent.name}: left: {violation.message.split(': ', 1)[-1]}")
    for request, answer in sorted(resolver.answers.items(), key=lambda item: (item[0].manager, item[0].name)):
        context = f" ({request.context})" if request.context else ""
        state = answer.version if answer.version is not None else f"UNRESOLVED: {answer.detail}"
        print(f"{request.manager}{context} {request.name}: {state}")
    args.output.write_text(render(resolver), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
