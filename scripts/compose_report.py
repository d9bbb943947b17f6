"""Which compose fields `harden --unsafe-fixes` added or changed, per kind of image, over a corpus of
compose files (default: tests/compose). `python scripts/compose_report.py [DIR]`."""

from __future__ import annotations

import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ruamel.yaml import YAML

from generator.audit.compose import is_compose_name
from generator.audit.compose_images import lookup
from generator.audit.compose_lint import harden
from generator.audit.lint import Config

DEFAULT = Path(__file__).resolve().parent.parent / "tests" / "compose"


def _load(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def fields_by_kind(root: Path) -> tuple[dict[str, Counter[str]], Counter[str]]:
    """kind → Counter of fields added or changed; kind → number of services."""
    fields: dict[str, Counter[str]] = defaultdict(Counter)
    services: Counter[str] = Counter()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and is_compose_name(p.name)):
        text = path.read_text(encoding="utf-8")
        before = _load(text)["services"]
        with tempfile.TemporaryDirectory() as secrets_dir:  # as with -o: secret values may move into files
            after = _load(harden(text, str(path), Config(), unsafe=True, secrets_dir=secrets_dir).text)["services"]
        for name, service in before.items():
            info = lookup(service.get("image"))
            kind = info.kind if info else "(unknown image)"
            services[kind] += 1
            for key in set(service) | set(after[name]):
                if service.get(key) != after[name].get(key):
                    fields[kind][key] += 1
    return fields, services


def table(root: Path) -> str:
    fields, services = fields_by_kind(root)
    lines = ["| image kind | services | fields added or changed (services) |", "|---|---|---|"]
    for kind in sorted(services, key=lambda k: (k.startswith("("), k)):
        changed = ", ".join(f"{key} ({count})" for key, count in sorted(fields[kind].items()))
        lines.append(f"| {kind} | {services[kind]} | {changed or '-'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(table(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT))
