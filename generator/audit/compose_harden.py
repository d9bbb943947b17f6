"""`hardcase harden` for a compose file: the hardened text and its report (the CLI writes them).

Secret values a fix moves out of the file are written here, beside where the hardened file goes
(`-o OUT`: OUT's directory; `--in-place`: FILE's), mode 0600, before the CLI writes the file that
refers to them. On stdout or `--diff` nothing else is written, so those fixes are not made.
"""

from __future__ import annotations

import argparse

from generator.audit.fix import HardenResult


def harden_compose(args: argparse.Namespace) -> tuple[HardenResult, str]:
    from pathlib import Path

    from generator.audit.compose import read_compose
    from generator.audit.compose_lint import harden
    from generator.audit.lint import load_config
    from generator.audit.report import OutputFormat, file_report, render
    from generator.scaffold.write import write_atomic

    target: Path | None = args.output if args.output is not None else args.file if args.in_place else None
    parsed = read_compose(str(args.file))
    files: dict[str, str] = {}
    result = harden(parsed.text, str(args.file), load_config(args.config, "."), unsafe=args.unsafe_fixes,
                    public=list(args.public), secrets_dir=str(target.parent) if target is not None else None,
                    files=files)
    if target is not None:
        for relative, content in sorted(files.items()):
            path = target.parent / relative
            if not path.exists():  # an existing file holds this very value (harden picks another name otherwise)
                write_atomic(path, content.encode("utf-8"), 0o600)
    report = render([file_report(str(args.file), result.remaining, result.applied, kind="compose")],
                    OutputFormat(args.format), harden=True)
    return result, report
