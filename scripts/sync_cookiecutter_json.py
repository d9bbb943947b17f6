"""Write templates/service/cookiecutter.json from the python-fastapi preset.

Plain `cookiecutter templates/service` then renders exactly what `hardcase new --preset
python-fastapi --no-input` renders; tests/test_cookiecutter_compat.py fails when the two drift.
Usage: python scripts/sync_cookiecutter_json.py [--check]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from generator.cli.main import main as _unused  # noqa: F401  (ensures the package imports)
from generator.core.resources import templates_dir
from generator.scaffold.new import NewRequest, collect_answers, template_context

DEFAULT_PRESET = "python-fastapi"


def expected() -> str:
    answers = collect_answers(NewRequest(dest=Path("/nonexistent"), preset=DEFAULT_PRESET))
    config = {
        "name": answers.name,
        "description": answers.description,
        "__prompts__": {
            "name": "Service name (lowercase DNS label)",
            "description": "One line describing the service",
        },
        "_copy_without_render": [],
        "_hc": template_context(answers),
    }
    return json.dumps(config, indent=2) + "\n"


if __name__ == "__main__":
    path = templates_dir() / "service" / "cookiecutter.json"
    text = expected()
    if "--check" in sys.argv:
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            sys.exit(f"{path} is out of date: run python scripts/sync_cookiecutter_json.py")
        sys.exit(0)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
