"""`hardcase seccomp generate|check|diff|learn` and `hardcase apparmor generate` (generator.profiles)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from generator.core.errors import ExitCode, UsageError
from generator.core.terminal import printable

if TYPE_CHECKING:
    from generator.cli.env import Command, Environment


def add_seccomp_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Command]:
    seccomp = commands.add_parser("seccomp", help="generate, check, compare or learn seccomp profiles")
    seccomp_commands = seccomp.add_subparsers(dest="seccomp_command", metavar="ACTION", required=True)
    generate = seccomp_commands.add_parser("generate", help="write the profile for a runtime")
    generate.add_argument("--runtime", required=True, metavar="RUNTIME",
                          help="the runtime whose profile to write (an unknown one lists the known)")
    generate.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    generate.add_argument("--force", action="store_true", help="replace an existing output file")
    seccomp_check = seccomp_commands.add_parser("check", help="compile a profile with libseccomp and report problems")
    seccomp_check.add_argument("profile", type=Path, metavar="PROFILE", help="the seccomp profile (JSON) to check")
    _add_seccomp_actions(seccomp_commands)
    return {"seccomp": _cmd_seccomp}


def _cmd_seccomp(args: argparse.Namespace, env: Environment) -> int:
    from generator.profiles import seccomp, seccomp_check

    if args.seccomp_command == "diff":
        return cmd_diff(args, env)
    if args.seccomp_command == "learn":
        return cmd_learn(args, env)
    if args.seccomp_command == "generate":
        if args.runtime not in seccomp.RUNTIMES:
            raise UsageError(f"unknown runtime '{args.runtime}' (known: {', '.join(seccomp.RUNTIMES)})")
        text = seccomp.render_profile(args.runtime)
        if args.output is None:
            env.stdout.write(text)
            return ExitCode.OK
        from generator.core.files import write_output

        write_output(args.output, text, args.force)
        print(printable(f"{args.output}: {len(seccomp.allowed_syscalls(args.runtime))} syscalls allowed"),
              file=env.stdout)
        return ExitCode.OK
    profile = seccomp_check.load_profile(args.profile)
    problems = seccomp_check.validate_profile(profile)
    for problem in problems:  # problems quote the profile: escaped
        print(printable(f"{args.profile}: {problem}"), file=env.stdout)
    if not problems:
        print(printable(f"{args.profile}: ok (compiles for x86_64 and aarch64)"), file=env.stdout)
    return ExitCode.FINDINGS if problems else ExitCode.OK


def _add_seccomp_actions(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    diff = actions.add_parser("diff", help="compare two profiles per architecture: exit 0 same, 1 different",
                              description="What each profile allows that the other does not, per architecture, "
                                          "and changed actions, argument filters and errnoRet values.")
    diff.add_argument("a", type=Path, metavar="A", help="the first profile (JSON)")
    diff.add_argument("b", type=Path, metavar="B", help="the second profile (JSON)")
    diff.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    learn = actions.add_parser(
        "learn", help="run the service under a logging profile and write a profile of what it called",
        description="Start the compose service with a SCMP_ACT_LOG profile (root: reads the kernel log), drive a "
                    "workload, union several runs, write a tight profile and verify the service under it.")
    learn.add_argument("dest", nargs="?", default=".", type=Path, metavar="DIR",
                       help="the generated project (default: .)")
    learn.add_argument("--service", metavar="NAME", help="compose service (default: the one .hardcase.yml names)")
    learn.add_argument("--runs", type=int, default=3, help="runs to union (default: 3)")
    workload = learn.add_mutually_exclusive_group()
    workload.add_argument("--workload", choices=["health"], default="health",
                          help="health: health checks plus requests to each published port (default)")
    workload.add_argument("--command", dest="workload_command", metavar="CMD",
                          help="a host command that drives the service (no shell; HARDCASE_LEARN_PORTS is set)")
    workload.add_argument("--seconds", type=float, metavar="N", help="record N seconds of your own traffic")
    learn.add_argument("-o", "--output", type=Path, metavar="PROFILE",
                       help="where to write the profile (default: DIR/seccomp.learned.json)")
    learn.add_argument("--force", action="store_true", help="replace an existing PROFILE")
    learn.add_argument("--no-build", action="store_true", help="use the image already tagged in compose.yaml")
    learn.add_argument("--ca-bundle", type=Path, default=Path("/etc/ssl/certs/ca-certificates.crt"),
                       help="CA bundle passed to the build as secret ca_bundle (if the file exists)")
    learn.add_argument("--no-verify", action="store_true", help="do not run verify under the learned profile")
    learn.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")


def add_apparmor_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Command]:
    apparmor = commands.add_parser("apparmor", help="generate an AppArmor profile for a generated service")
    actions = apparmor.add_subparsers(dest="apparmor_command", metavar="ACTION", required=True)
    generate = actions.add_parser("generate", help="write the AppArmor profile for the project in DIR")
    generate.add_argument("dest", nargs="?", default=".", type=Path, metavar="DIR",
                          help="the generated project (default: .)")
    generate.add_argument("-o", "--output", type=Path, metavar="FILE", help="file to write (default: stdout)")
    generate.add_argument("--name", metavar="NAME", help="profile name (default: hardcase-SERVICE)")
    generate.add_argument("--force", action="store_true", help="replace an existing FILE")
    return {"apparmor": cmd_apparmor}


def cmd_diff(args: argparse.Namespace, env: Environment) -> int:
    import json

    from generator.profiles.seccomp_check import load_profile, shape_problems
    from generator.profiles.seccomp_diff import diff_profiles, render_text

    profiles = []
    for path in (args.a, args.b):
        profile = load_profile(path)
        problems = shape_problems(profile)
        if problems:
            raise UsageError(f"{path}: {problems[0]}")
        profiles.append(profile)
    result = diff_profiles(*profiles)
    if args.format == "json":
        env.stdout.write(json.dumps({"a": str(args.a), "b": str(args.b), **result.to_dict()}, indent=2) + "\n")
    else:
        env.stdout.write(render_text(result, str(args.a), str(args.b)))
    return ExitCode.OK if result.same else ExitCode.FINDINGS


def cmd_learn(args: argparse.Namespace, env: Environment) -> int:
    import json

    from generator.engine.verify import tty_progress
    from generator.profiles.seccomp_learn import Workload, learn, render_text

    if args.workload_command is not None:
        workload = Workload("command", command=args.workload_command)
        if not args.workload_command.strip():
            raise UsageError("--command is empty")
    elif args.seconds is not None:
        if not 0 < args.seconds <= 3600:
            raise UsageError("--seconds must be between 0 and 3600")
        workload = Workload("seconds", seconds=args.seconds)
    else:
        workload = Workload("health")
    output = args.output or args.dest / "seccomp.learned.json"
    result = learn(args.dest, service=args.service, runs=args.runs, workload=workload, output=output,
                   force=args.force, build=not args.no_build, check_with_verify=not args.no_verify,
                   ca_bundle=args.ca_bundle,
                   progress=tty_progress(env.stderr))
    if args.format == "json":
        env.stdout.write(json.dumps({"profile": str(output), **result.to_dict()}, indent=2) + "\n")
    else:
        env.stdout.write(render_text(result, output))
    card = result.verify_card
    return ExitCode.OK if card is None or card.passed else ExitCode.FINDINGS


def cmd_apparmor(args: argparse.Namespace, env: Environment) -> int:
    from generator.profiles import apparmor

    text = apparmor.generate_for_project(args.dest, args.name)
    if args.output is None:
        env.stdout.write(text)
        return ExitCode.OK
    from generator.core.files import write_output

    write_output(args.output, text, args.force)
    print(printable(f"{args.output}: AppArmor profile {apparmor.profile_name_for(args.dest, args.name)}"),
          file=env.stdout)
    return ExitCode.OK

