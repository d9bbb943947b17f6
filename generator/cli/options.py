"""Options shared by several command groups, spelled once."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_presets_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--presets-dir", type=Path, metavar="DIR",
                        help="org presets, searched before the built-ins (env: HARDCASE_PRESETS_DIR)")


def add_policy_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", type=Path, metavar="FILE",
                        help="policy file to enforce instead of the discovered ones (hardcase-policy.yaml, "
                             "HARDCASE_POLICY)")
