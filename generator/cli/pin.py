"""`hardcase pin`: pin base images to tag@sha256 digests through the registry API (generator.engine.pin)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from generator.core.errors import ExitCode

if TYPE_CHECKING:
    from generator.cli.env import Command, Environment


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Command]:
    pin = commands.add_parser("pin", help="pin base images to tag@sha256 digests through the registry API")
    pin.add_argument("paths", nargs="*", type=Path, default=[Path(".")], metavar="DIR|FILE")
    pin.add_argument("--check", action="store_true", help="write nothing; exit 1 if any reference is unpinned")
    pin.add_argument("--update", action="store_true", help="re-resolve references that are already pinned")
    pin.add_argument("--registry-mirror", default="", metavar="HOST[:PORT][/PREFIX]",
                     help="rewrite public image names onto this mirror and resolve there")
    pin.add_argument("--no-backup", action="store_true", help="do not keep FILE.hardcase.bak copies")
    return {"pin": _cmd_pin}


def _cmd_pin(args: argparse.Namespace, env: Environment) -> int:
    from generator.core.files import write_atomic
    from generator.engine import pin
    from generator.engine.registry import resolve_digest

    files = pin.discover(args.paths)
    refs = [ref for path in files for ref in pin.references(path)]
    if args.check:
        unpinned = [ref for ref in refs if not ref.pinned]
        for ref in unpinned:
            print(f"{ref.path}:{ref.line}: unpinned image {ref.text}", file=env.stdout)
        print(f"{len(refs) - len(unpinned)}/{len(refs)} image references pinned", file=env.stdout)
        return ExitCode.FINDINGS if unpinned else ExitCode.OK
    changes = pin.plan_changes(refs, args.update, args.registry_mirror, resolve_digest)
    for path in files:
        mine = [c for c in changes if c.ref.path == path]
        if not mine:
            continue
        new_text = pin.apply_changes(path, mine)
        if not args.no_backup:
            write_atomic(path.with_name(path.name + pin.BACKUP_SUFFIX), path.read_bytes())
        write_atomic(path, new_text.encode("utf-8"), path.stat().st_mode & 0o777)
        for change in mine:
            print(f"{path}:{change.ref.line}: {change.ref.text} -> {change.new_text}", file=env.stdout)
    print(f"{len(changes)} reference(s) updated in {len({c.ref.path for c in changes})} file(s)", file=env.stdout)
    return ExitCode.OK
