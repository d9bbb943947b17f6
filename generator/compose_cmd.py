"""`hardcase harden` for a compose file: the hardened text and its report (the CLI writes them)."""

from __future__ import annotations

import argparse

from .fix import HardenResult


def harden_compose(args: argparse.Namespace) -> tuple[HardenResult, str]:
    from .compose import read_compose
    from .compose_lint import harden
    from .lint import load_config
    from .report import OutputFormat, file_report, render

    parsed = read_compose(str(args.file))
    result = harden(parsed.text, str(args.file), load_config(args.config, "."), unsafe=args.unsafe_fixes,
                    public=list(args.public))
    report = render([file_report(str(args.file), result.remaining, result.applied, kind="compose")],
                    OutputFormat(args.format), harden=True)
    return result, report
