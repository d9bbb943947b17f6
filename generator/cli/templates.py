"""`hardcase templates check` and `hardcase update`: custom templates and re-rendering a generated
project with a 3-way merge (generator.scaffold)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from generator.cli.options import add_policy_option, add_presets_dir
from generator.core.errors import ExitCode
from generator.core.terminal import printable

if TYPE_CHECKING:
    from generator.cli.env import Command, Environment


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Command]:
    templates = commands.add_parser("templates", help="check a custom template")
    template_actions = templates.add_subparsers(dest="templates_command", metavar="ACTION", required=True)
    tcheck = template_actions.add_parser(
        "check", help="render a template with each preset and run hadolint, checkov, compose, seccomp, policy")
    tcheck.add_argument("source", metavar="DIR|GIT-URL|ZIP", help="the template: a directory, git URL or zip file")
    tcheck.add_argument("--checkout", metavar="REF", help="branch, tag or commit of a git template")
    tcheck.add_argument("--preset", dest="only", action="append", default=[], metavar="NAME",
                        help="check only this preset (repeatable; default: the template's presets/ or the built-ins)")
    tcheck.add_argument("--trust-template-hooks", action="store_true",
                        help="run the template's hooks (never run otherwise)")
    tcheck.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    add_presets_dir(tcheck)
    add_policy_option(tcheck)

    update = commands.add_parser("update", help="re-render a generated project and 3-way merge into your files")
    update.add_argument("dest", nargs="?", default=".", type=Path, metavar="DIR",
                        help="the generated project (default: .)")
    update.add_argument("--dry-run", action="store_true", help="print the unified diff, write nothing")
    update.add_argument("--trust-template-hooks", action="store_true",
                        help="run the template's hooks (never run otherwise)")
    update.add_argument("--template-source-ok", action="store_true",
                        help="use the template .hardcase.yml names although this machine has not used it for "
                             "this project before (review it first: it decides every file written)")
    add_policy_option(update)
    return {"templates": _cmd_templates, "update": _cmd_update}


def _cmd_templates(args: argparse.Namespace, env: Environment) -> int:
    from generator.scaffold.gates import check_template

    results = []
    for result in check_template(args.source, args.checkout, args.only, args.presets_dir, args.policy,
                                 args.trust_template_hooks):
        results.append(result)
        if args.format == "text":
            status = "ok  " if result.ok else "FAIL"
            # The preset names and the tools' details quote the template: escaped.
            print(printable(f"{status} {result.preset:<20} {result.gate:<9} {result.detail}"), file=env.stdout)
    failed = [r for r in results if not r.ok]
    if args.format == "json":
        json.dump({"results": [r.to_dict() for r in results], "passed": not failed}, env.stdout, indent=2)
        print(file=env.stdout)
    else:
        presets_seen = len({r.preset for r in results})
        print(f"{len(results) - len(failed)}/{len(results)} gates passed over {presets_seen} preset(s)",
              file=env.stdout)
    return ExitCode.FINDINGS if failed or not results else ExitCode.OK


def _cmd_update(args: argparse.Namespace, env: Environment) -> int:
    from generator.scaffold import questions
    from generator.scaffold.update import Outcome, UpdateRequest, apply_update, plan_update, unified_diff

    # A template source this machine has not used for the project: asked on a terminal, else an error.
    confirm = questions.confirm if env.stdin_isatty else None
    plan = plan_update(UpdateRequest(args.dest, args.dry_run, args.policy, args.trust_template_hooks,
                                     template_source_ok=args.template_source_ok, confirm=confirm))
    for note in plan.notes:  # notes, paths and the diff quote the template and your files: escaped
        print(printable(f"note: {note}"), file=env.stdout)
    if args.dry_run:
        env.stdout.write(printable(unified_diff(plan), multiline=True))
    else:
        for note in apply_update(plan):
            print(printable(f"note: {note}"), file=env.stdout)
    verb = "would " if args.dry_run else ""
    for item in plan.files:
        if item.outcome is Outcome.UNCHANGED:
            continue
        extra = {Outcome.USER_DELETED: " (you deleted it; not restored)",
                 Outcome.NOT_GENERATED: " (no longer generated; left as is)",
                 Outcome.CONFLICT: f" ({item.conflicts} conflict(s) marked)"}.get(item.outcome, "")
        print(printable(f"{item.outcome.value:<9} {args.dest / item.path}{extra}"), file=env.stdout)
    if plan.conflicts:
        marked = " would be marked" if verb else ""
        print(f"{plan.conflicts} conflict(s){marked}: resolve the <<<<<<< / >>>>>>> markers, then run your checks",
              file=env.stdout)
        return ExitCode.FINDINGS
    changed = sum(1 for f in plan.files if f.after is not None and f.after != f.before)
    print(printable(f"{verb}update {changed} file(s) in {args.dest}{' (dry run: nothing written)' if verb else ''}"),
          file=env.stdout)
    return ExitCode.OK
