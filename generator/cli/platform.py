"""Command line for the platform-team commands: `policy check|audit`, `templates check`, `update`, and the
extra options of `new` and `presets` (custom templates, org presets, policy).

Kept apart from `cli.py` so each command family can grow without touching the others; `cli.py`
registers these parsers and dispatches to the functions in `COMMANDS`. Arguments → calls, results
→ output and exit codes; no logic.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from generator.core.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from generator.cli import Environment


def add_new_options(new: argparse.ArgumentParser) -> None:
    new.add_argument("--template", metavar="DIR|GIT-URL|ZIP",
                     help="a custom cookiecutter-format template (see docs/templates.md)")
    new.add_argument("--checkout", metavar="REF", help="branch, tag or commit of a git --template")
    new.add_argument("--trust-template-hooks", action="store_true",
                     help="run the custom template's hooks (never run otherwise)")
    add_presets_dir(new)
    add_policy_option(new)


def add_presets_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--presets-dir", type=Path, metavar="DIR",
                        help="org presets, searched before the built-ins (env: HARDCASE_PRESETS_DIR)")


def add_policy_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", type=Path, metavar="FILE",
                        help="policy file to enforce instead of the discovered ones (hardcase-policy.yaml, "
                             "HARDCASE_POLICY)")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    policy = commands.add_parser("policy", help="validate a policy file or audit a project against the policy")
    actions = policy.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a hardcase-policy.yaml (unknown keys, wrong types)")
    check.add_argument("file", type=Path)
    audit = actions.add_parser("audit", help="report policy violations of a generated project (exit 1 if any)")
    audit.add_argument("dest", nargs="?", default=".", type=Path, metavar="DIR")
    audit.add_argument("--format", choices=["text", "json"], default="text")
    add_policy_option(audit)
    actions.add_parser("rules", help="list the policy rules and their IDs")

    templates = commands.add_parser("templates", help="check a custom template")
    template_actions = templates.add_subparsers(dest="templates_command", metavar="ACTION", required=True)
    tcheck = template_actions.add_parser(
        "check", help="render a template with each preset and run hadolint, checkov, compose, seccomp, policy")
    tcheck.add_argument("source", metavar="DIR|GIT-URL|ZIP")
    tcheck.add_argument("--checkout", metavar="REF")
    tcheck.add_argument("--preset", dest="only", action="append", default=[], metavar="NAME",
                        help="check only this preset (repeatable; default: the template's presets/ or the built-ins)")
    tcheck.add_argument("--trust-template-hooks", action="store_true")
    tcheck.add_argument("--format", choices=["text", "json"], default="text")
    add_presets_dir(tcheck)
    add_policy_option(tcheck)

    update = commands.add_parser("update", help="re-render a generated project and 3-way merge into your files")
    update.add_argument("dest", nargs="?", default=".", type=Path, metavar="DIR")
    update.add_argument("--dry-run", action="store_true", help="print the unified diff, write nothing")
    update.add_argument("--trust-template-hooks", action="store_true")
    add_policy_option(update)


def _cmd_policy(args: argparse.Namespace, env: Environment) -> int:
    from generator.policy import files as policy

    if args.policy_command == "check":
        if not args.file.is_file():
            raise UsageError(f"{args.file}: no such file")
        problems = policy.check_file(args.file)
        for problem in problems:
            print(f"{args.file}: {problem}", file=env.stdout)
        if problems:
            return ExitCode.USAGE
        print(f"{args.file}: ok", file=env.stdout)
        return ExitCode.OK
    if args.policy_command == "rules":
        for rule, key in policy.rule_keys().items():
            print(f"{rule}  {key}", file=env.stdout)
        return ExitCode.OK
    from generator.policy.audit import audit_files, read_project, render_json, render_text

    policies = policy.discover(args.dest, args.policy, upward=True)
    if not policies:
        raise UsageError(f"no policy for {args.dest}: no {policy.POLICY_FILE} there or above, "
                         f"no {policy.POLICY_ENV}, no --policy")
    violations = audit_files(policies, read_project(args.dest))
    env.stdout.write(render_json(violations) if args.format == "json" else render_text(violations, args.dest))
    return ExitCode.FINDINGS if violations else ExitCode.OK


def _cmd_templates(args: argparse.Namespace, env: Environment) -> int:
    from generator.scaffold.gates import check_template

    results = []
    for result in check_template(args.source, args.checkout, args.only, args.presets_dir, args.policy,
                                 args.trust_template_hooks):
        results.append(result)
        if args.format == "text":
            status = "ok  " if result.ok else "FAIL"
            print(f"{status} {result.preset:<20} {result.gate:<9} {result.detail}", file=env.stdout)
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
    from generator.scaffold.update import Outcome, UpdateRequest, apply_update, plan_update, unified_diff

    plan = plan_update(UpdateRequest(args.dest, args.dry_run, args.policy, args.trust_template_hooks))
    for note in plan.notes:
        print(f"note: {note}", file=env.stdout)
    if args.dry_run:
        env.stdout.write(unified_diff(plan))
    else:
        apply_update(plan)
    verb = "would " if args.dry_run else ""
    for item in plan.files:
        if item.outcome is Outcome.UNCHANGED:
            continue
        extra = {Outcome.USER_DELETED: " (you deleted it; not restored)",
                 Outcome.NOT_GENERATED: " (no longer generated; left as is)",
                 Outcome.CONFLICT: f" ({item.conflicts} conflict(s) marked)"}.get(item.outcome, "")
        print(f"{item.outcome.value:<9} {args.dest / item.path}{extra}", file=env.stdout)
    if plan.conflicts:
        marked = " would be marked" if verb else ""
        print(f"{plan.conflicts} conflict(s){marked}: resolve the <<<<<<< / >>>>>>> markers, then run your checks",
              file=env.stdout)
        return ExitCode.FINDINGS
    changed = sum(1 for f in plan.files if f.after is not None and f.after != f.before)
    print(f"{verb}update {changed} file(s) in {args.dest}{' (dry run: nothing written)' if verb else ''}",
          file=env.stdout)
    return ExitCode.OK


COMMANDS = {"policy": _cmd_policy, "templates": _cmd_templates, "update": _cmd_update}
