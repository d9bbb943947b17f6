"""`hardcase policy check|audit|rules`: the org policy's command line (generator.policy)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from generator.cli.options import add_policy_option
from generator.core.errors import ExitCode, UsageError
from generator.core.terminal import printable

if TYPE_CHECKING:
    from generator.cli.env import Command, Environment


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Command]:
    policy = commands.add_parser("policy", help="validate a policy file or audit a project against the policy")
    actions = policy.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a hardcase-policy.yaml (unknown keys, wrong types)")
    check.add_argument("file", type=Path, metavar="FILE", help="the policy file to validate")
    audit = actions.add_parser("audit", help="report policy violations of a generated project (exit 1 if any)")
    audit.add_argument("dest", nargs="?", default=".", type=Path, metavar="DIR",
                       help="the generated project (default: .)")
    audit.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    audit.add_argument("-f", "--file", dest="compose_files", action="append", type=Path, default=[],
                       metavar="COMPOSE_FILE",
                       help="compose file to audit, relative to DIR; repeat to merge files in order as "
                            "`docker compose -f` does (default: the files docker compose would load)")
    add_policy_option(audit)
    actions.add_parser("rules", help="list the policy rules and their IDs")
    return {"policy": _cmd_policy}


def _cmd_policy(args: argparse.Namespace, env: Environment) -> int:
    from generator.policy import files as policy

    if args.policy_command == "check":
        if not args.file.is_file():
            raise UsageError(f"{args.file}: no such file")
        problems = policy.check_file(args.file)
        for problem in problems:
            print(printable(f"{args.file}: {problem}"), file=env.stdout)
        if problems:
            return ExitCode.USAGE
        print(printable(f"{args.file}: ok"), file=env.stdout)
        return ExitCode.OK
    if args.policy_command == "rules":
        for rule, key in policy.rule_keys().items():
            print(f"{rule}  {key}", file=env.stdout)
        return ExitCode.OK
    from generator.policy.audit import audit_files, compose_arguments, read_project, render_json, render_text

    policies = policy.discover(args.dest, args.policy, upward=True)
    if not policies:
        raise UsageError(f"no policy for {args.dest}: no {policy.POLICY_FILE} there or above, "
                         f"no {policy.POLICY_ENV}, no --policy")
    if not args.dest.is_dir():
        raise UsageError(f"{args.dest}: not a directory")
    compose_files = compose_arguments(args.dest, args.compose_files)
    violations = audit_files(policies, read_project(args.dest, compose_files), compose_files)
    env.stdout.write(render_json(violations) if args.format == "json" else render_text(violations, args.dest))
    return ExitCode.FINDINGS if violations else ExitCode.OK
