"""The security controls hardcase applies: ID, CIS Docker Benchmark item, what it is and how `verify`
proves it (data/controls.yaml). `new` writes them into README.Docker.md and `verify` probes them,
so both flows read one list.
"""

from __future__ import annotations

from functools import cache

from generator.core.resources import DATA_DIR
from generator.core.yamlio import load_data_file


@cache
def controls() -> list[dict[str, str]]:
    data: list[dict[str, str]] = load_data_file(DATA_DIR / "controls.yaml")["controls"]
    return data
