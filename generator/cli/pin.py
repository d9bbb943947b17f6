"""`hardcase pin`: pin base images to tag@sha256 digests through the registry API (generator.engine.pin)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from generator.core.errors import ExitCode
from generator.core.terminal import printable

if TYPE_CHECKING:
    from generator.cli.env import Command, Environment


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Command]:
    pin = commands.add_parser("pin", help="pin base images to tag@sha256 digests through the registry API")
    pin.add_argument("paths", nargs="*", type=Path, default=[Path(".")], metavar="DIR|FILE",
                     help="Dockerfiles and compose files, or directories to search for them (default: .)")
    pin.add_argument("--check", action="store_true", help="write nothing; exit 1 if any reference is unpinned")
    pin.add_argument("--update", action="store_true", help="re-resolve references that are already pinned")
    pin.add_argument("--registry-mirror", default="", metavar="HOST[:PORT][/PREFIX]",
                     help="rewrite public image names onto this mirror and resolve there")
    pin.add_argument("--no-backup", action="store_true", help="do not keep FILE.hardcase.bak copies")
    return {"pin": _cmd_pin}


def _cmd_pin(args: argparse.Namespace, env: Environment) -> int:
    from generator.core.errors import UsageError, os_error_message

    try:
        return _pin(args, env)
    except OSError as exc:  # permissions, a read-only or full disk: the environment's answer, on one line
        raise UsageError(os_error_message(exc)) from None


def _pin(args: argparse.Namespace, env: Environment) -> int:
    from generator.core.errors import read_user_bytes
    from generator.core.files import check_target, write_user_file
    from generator.engine import pin
    from generator.engine.registry import resolve_digest

    files = pin.discover(args.paths)
    refs = [ref for path in files for ref in pin.references(path)]
    if args.check:
        unpinned = [ref for ref in refs if not ref.pinned]
        for ref in unpinned:
            print(printable(f"{ref.path}:{ref.line}: unpinned image {ref.text}"), file=env.stdout)
        print(f"{len(refs) - len(unpinned)}/{len(refs)} image references pinned", file=env.stdout)
        return ExitCode.FINDINGS if unpinned else ExitCode.OK
    changes = pin.plan_changes(refs, args.update, args.registry_mirror, resolve_digest)
    targets = [path for path in files if any(c.ref.path == path for c in changes)]
    for path in targets:  # every refusal before the first write: a symlink would be replaced, not rewritten
        check_target(path)
        if not args.no_backup:
            check_target(path.with_name(path.name + pin.BACKUP_SUFFIX))
    for path in targets:
        mine = [c for c in changes if c.ref.path == path]
        new_text = pin.apply_changes(path, mine)
        mode = path.stat().st_mode & 0o777
        if not args.no_backup:  # never more permissive than the file it copies
            write_user_file(path.with_name(path.name + pin.BACKUP_SUFFIX), read_user_bytes(str(path)), mode)
        write_user_file(path, new_text.encode("utf-8"), mode, exact_mode=True)
        for change in mine:
            print(printable(f"{path}:{change.ref.line}: {change.ref.text} -> {change.new_text}"), file=env.stdout)
    print(f"{len(changes)} reference(s) updated in {len({c.ref.path for c in changes})} file(s)", file=env.stdout)
    return ExitCode.OK
