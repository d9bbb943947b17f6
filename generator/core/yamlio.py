"""The one place YAML is read and written for data (not for round-trip edits).

User files (answers, preset files) are read with ruamel's safe YAML 1.2 loader: it never
constructs Python objects, so a `!!python/object` tag is an error, not code, and `no` stays a
string. hardcase's own data files are read with libyaml's C safe loader (PyYAML, which cookiecutter
already brings), because parsing them in pure Python was most of `hardcase new`'s run time.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from generator.core.errors import UsageError


def load_yaml_text(text: str, origin: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{origin}: not valid YAML ({first})") from None


def load_data_file(path: Path) -> Any:
    """One of hardcase's own data files (trusted, YAML 1.2-compatible content)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 (a safe loader)
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: broken data file ({exc.__class__.__name__})") from None


def load_yaml_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read ({exc.__class__.__name__})") from None
    return load_yaml_text(text, str(path))


def dump_yaml(data: Any) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[attr-defined,assignment,unused-ignore]
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()
