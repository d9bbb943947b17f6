"""Command line: arguments → calls, errors → exit codes. No logic lives here.

`main(argv, env)` is injectable (stdin/stdout/stderr/tty) so tests run commands in-process and read
`.exit_status`, `.stdout`, `.stderr`, as httpie's tests do. Heavy modules are imported inside the
command that needs them, so `hardcase check` starts fast.
"""

from __future__ import annotations

import sys

from generator import __version__
from generator.core.errors import ExitCode, HardcaseError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: `entry` must stay cheap to import (see check_cmd)
if TYPE_CHECKING:
    import argparse
    from pathlib import Path
    from typing import TextIO

FORMATS = ("text", "json", "sarif")
SEVERITIES = ("error", "warning", "info", "style")
CONFIG_NAME = ".hardcase-check.yaml"


class Environment:
    """Where a command reads and writes (tests pass StringIOs)."""

    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None,
                 stdin_isatty: bool | None = None) -> None:
        self.stdout: TextIO = stdout if stdout is not None else sys.stdout
        self.stderr: TextIO = stderr if stderr is not None else sys.stderr
        self.stdin_isatty: bool = sys.stdin.isatty() if stdin_isatty is None else stdin_isatty


def _answer_keys() -> str:
    from generator.scaffold.answers import QUESTIONS

    return "\n".join(f"  {q.key:<16} {q.help}" for q in QUESTIONS)


def _build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; the answer-key epilog of `new` is only built for `new` (it loads the catalog)."""
    import argparse
    from pathlib import Path

    from generator.cli import platform as cli_platform
    from generator.cli import seccomp as cli_seccomp

    parser = argparse.ArgumentParser(
        prog="hardcase",
        description="Containers secure by construction: generate, harden, check and prove them.",
    )
    parser.add_argument("--version", action="version", version=f"hardcase {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    keys = _answer_keys() if command == "new" else "(see `hardcase new --help`)"
    new = commands.add_parser(
        "new",
        help="generate a hardened Dockerfile, compose.yaml, seccomp profile and README.Docker.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Generate a hardened container setup for a service in DIR.",
        epilog=f"answer keys (for --set KEY=VALUE and --answers FILE):\n{keys}",
    )
    new.add_argument("dest", nargs="?", default=".", metavar="DIR", help="where to write (default: .)")
    new.add_argument("--preset", metavar="NAME|FILE", help="start from a preset (see `hardcase presets`)")
    new.add_argument("--answers", type=Path, metavar="FILE", help="YAML file of answers (e.g. a .hardcase.yml)")
    new.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                     help="set one answer; lists are comma-separated (repeatable)")
    new.add_argument("--no-input", action="store_true", help="never prompt; a missing or bad answer is an error")
    new.add_argument("--with-app", action="store_true", help="also write a minimal runnable app with /healthz")
    new.add_argument("--registry-mirror", metavar="HOST[:PORT][/PREFIX]", help="pull base images through a mirror")
    new.add_argument("--dry-run", action="store_true", help="print the file plan, write nothing")
    new.add_argument("--force", action="store_true", help="replace existing files that differ")
    new.add_argument("--apparmor", action="store_true",
                     help="also write an AppArmor profile (same as --set apparmor=true)")
    cli_platform.add_new_options(new)

    presets = commands.add_parser("presets", help="list presets or show one")
    presets.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    presets.add_argument("name", nargs="?", help="preset to show")
    presets.add_argument("--format", choices=["text", "json"], default="text")
    cli_platform.add_presets_dir(presets)

    seccomp = commands.add_parser("seccomp", help="generate or check seccomp profiles")
    seccomp_commands = seccomp.add_subparsers(dest="seccomp_command", metavar="ACTION", required=True)
    generate = seccomp_commands.add_parser("generate", help="write the profile for a runtime")
    generate.add_argument("--runtime", required=True)
    generate.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    generate.add_argument("--force", action="store_true", help="replace an existing output file")
    seccomp_check = seccomp_commands.add_parser("check", help="compile a profile with libseccomp and report problems")
    seccomp_check.add_argument("profile", type=Path)
    cli_seccomp.add_seccomp_actions(seccomp_commands)
    pin = commands.add_parser("pin", help="pin base images to tag@sha256 digests through the registry API")
    pin.add_argument("paths", nargs="*", type=Path, default=[Path(".")], metavar="DIR|FILE")
    pin.add_argument("--check", action="store_true", help="write nothing; exit 1 if any reference is unpinned")
    pin.add_argument("--update", action="store_true", help="re-resolve references that are already pinned")
    pin.add_argument("--registry-mirror", default="", metavar="HOST[:PORT][/PREFIX]",
                     help="rewrite public image names onto this mirror and resolve there")
    pin.add_argument("--no-backup", action="store_true", help="do not keep FILE.hardcase.bak copies")
    harden = commands.add_parser(
        "harden", help="rewrite a Dockerfile or compose file with hardening fixes and explain each change",
        description="Apply hardening fixes to a Dockerfile or compose file (safe ones by default) and report every "
                    "change. "
                    "Without -o/--in-place/--diff the hardened file goes to stdout and the report to stderr.")
    harden.add_argument("file", type=Path, metavar="FILE")
    where = harden.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", type=Path, metavar="OUT", help="write the hardened file to OUT")
    where.add_argument("--in-place", action="store_true", help="rewrite FILE, keeping FILE.hardcase.bak")
    where.add_argument("--diff", action="store_true", help="print a unified diff; exit 1 if anything would change")
    harden.add_argument("--force", action="store_true", help="with -o: replace an existing OUT")
    harden.add_argument("--unsafe-fixes", action="store_true", help="also apply fixes that need review")
    versions = harden.add_mutually_exclusive_group()
    versions.add_argument("--pin-packages", action="store_true",
                          help="with --unsafe-fixes: pin apt/pip/npm packages to versions resolved online (HC048)")
    versions.add_argument("--package-versions", type=Path, metavar="FILE",
                          help="with --unsafe-fixes: pin packages to the versions in a YAML file (offline, HC048)")
    harden.add_argument("--debian-mirror", metavar="URL",
                        help="Debian mirror for --pin-packages (default: $HARDCASE_DEBIAN_MIRROR or deb.debian.org)")
    harden.add_argument("--ubuntu-mirror", metavar="URL",
                        help="Ubuntu mirror for --pin-packages (default: $HARDCASE_UBUNTU_MIRROR, archive.ubuntu.com)")
    harden.add_argument("--format", choices=FORMATS, default="text", help="report format (default: text)")
    harden.add_argument("--config", type=Path, metavar="FILE", help=f"config file (default: nearest {CONFIG_NAME})")
    harden.add_argument("--public", action="append", default=[], metavar="SERVICE",
                        help="compose: keep SERVICE's ports on all interfaces and mark it public (repeatable)")
    cli_platform.add_policy_option(harden)
    check = commands.add_parser(
        "check", help="audit Dockerfiles and compose files: exit 0 clean, 1 findings, 2 usage or parse error",
        description="Check Dockerfiles and compose files (files, or Dockerfile, *.Dockerfile, Dockerfile.*, "
                    "compose.yaml, docker-compose.yml, docker-compose.*.yml, *.compose.yaml, ... below directories).")
    check.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    check.add_argument("--format", choices=FORMATS, default="text", help="report format (default: text)")
    check.add_argument("--fail-on", choices=SEVERITIES, default="style",
                       help="lowest severity that makes the exit status 1 (default: style, i.e. any finding)")
    check.add_argument("--config", type=Path, metavar="FILE", help=f"config file (default: nearest {CONFIG_NAME})")
    cli_platform.add_policy_option(check)
    verify = commands.add_parser("verify", help="build and run the service in a real engine and prove each control")
    verify.add_argument("dest", nargs="?", default=".", type=Path, metavar="DIR")
    verify.add_argument("--format", choices=["text", "json"], default="text")
    verify.add_argument("--no-build", action="store_true", help="use the image already tagged in compose.yaml")
    verify.add_argument("--ca-bundle", type=Path, default=Path("/etc/ssl/certs/ca-certificates.crt"),
                        help="CA bundle passed to the build as secret ca_bundle (if the file exists)")
    verify.add_argument("--allow-cap", action="append", default=[], metavar="CAP",
                        help="a capability the service is allowed to keep (repeatable)")
    verify.add_argument("--keep", action="store_true", help="leave the service running for inspection")
    cli_platform.add_commands(commands)
    cli_seccomp.add_commands(commands)
    return parser


def _cmd_verify(args: argparse.Namespace, env: Environment) -> int:
    from generator.engine.verify import render_text, tty_progress, verify

    card = verify(args.dest, build=not args.no_build, ca_bundle=args.ca_bundle, allowed_caps=args.allow_cap,
                  progress=tty_progress(env.stderr), keep=args.keep)
    env.stdout.write(card.to_json() + "\n" if args.format == "json" else render_text(card))
    return ExitCode.OK if card.passed else ExitCode.FINDINGS


def _cmd_check(args: argparse.Namespace, env: Environment) -> int:
    from generator.cli.check import run_check

    return run_check([str(path) for path in args.paths], args.format, args.fail_on,
                     str(args.config) if args.config is not None else None, env.stdout,
                     str(args.policy) if args.policy is not None else None)


def _cmd_harden(args: argparse.Namespace, env: Environment) -> int:
    from generator.audit.fix import harden
    from generator.audit.lint import BACKUP_SUFFIX, load_config, read_dockerfile
    from generator.audit.packages.versions import active, package_resolver
    from generator.audit.report import OutputFormat, file_report, render
    from generator.core.errors import ConflictError, UsageError
    from generator.policy.findings import PolicyLookup
    from generator.scaffold.write import write_atomic

    if args.force and args.output is None:
        raise UsageError("--force only goes with -o/--output")
    if not args.file.is_file():
        raise UsageError(f"{args.file}: no such file")
    if args.output is not None and args.output.exists() and not args.force:
        raise ConflictError(f"{args.output} exists; use --force to replace it")
    from generator.cli.check import is_compose

    if is_compose(str(args.file)):
        from generator.audit.compose_harden import harden_compose

        result, report = harden_compose(args)
    else:
        if args.public:
            raise UsageError("--public only applies to compose files")
        parsed = read_dockerfile(args.file)
        config = load_config(args.config, ".")
        resolver = package_resolver(args.pin_packages, args.package_versions, args.debian_mirror, args.unsafe_fixes,
                                    args.ubuntu_mirror)
        with active(resolver):
            result = harden(parsed, config, unsafe=args.unsafe_fixes)
        # harden does not fix policy violations; it reports those left in the hardened text
        remaining = result.remaining + PolicyLookup(args.policy).findings(args.file, result.text)
        pins = resolver.pins_in(result.text) if resolver is not None else []
        report = render([file_report(str(args.file), remaining, result.applied, pins)],
                        OutputFormat(args.format), harden=True)
    if args.diff:
        import difflib

        diff = difflib.unified_diff(result.original.splitlines(keepends=True), result.text.splitlines(keepends=True),
                                    f"a/{args.file}", f"b/{args.file}")
        env.stdout.write("".join(line if line.endswith("\n") else line + "\n" for line in diff))
        env.stderr.write(report)
        return ExitCode.FINDINGS if result.changed else ExitCode.OK
    if args.in_place:
        if result.changed:
            mode = args.file.stat().st_mode & 0o777
            write_atomic(args.file.with_name(args.file.name + BACKUP_SUFFIX), result.original.encode("utf-8"), mode)
            write_atomic(args.file, result.text.encode("utf-8"), mode)
        env.stdout.write(report)
    elif args.output is not None:
        write_atomic(args.output, result.text.encode("utf-8"))
        env.stdout.write(report)
    else:
        env.stdout.write(result.text)
        env.stderr.write(report)
    return ExitCode.OK


def _cmd_pin(args: argparse.Namespace, env: Environment) -> int:
    from generator.engine import pin
    from generator.engine.registry import resolve_digest
    from generator.scaffold.write import write_atomic

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


def _cmd_new(args: argparse.Namespace, env: Environment) -> int:
    from generator.scaffold.new import NewRequest, run

    interactive = env.stdin_isatty and not args.no_input
    ask = None
    if interactive:
        from generator.scaffold.questions import ask as questionary_ask

        ask = questionary_ask
    request = NewRequest(
        dest=_path(args.dest), preset=args.preset, answers_file=args.answers,
        sets=[*args.sets, "apparmor=true"] if args.apparmor else args.sets,
        with_app=args.with_app, registry_mirror=args.registry_mirror, force=args.force,
        dry_run=args.dry_run, ask=ask, template=args.template, checkout=args.checkout,
        trust_template_hooks=args.trust_template_hooks, presets_dir=args.presets_dir, policy_file=args.policy,
    )
    result = run(request)
    for note in result.notes:
        print(f"note: {note}", file=env.stdout)
    verb = "would" if result.dry_run else ""
    for step in result.steps:
        action = step.action.value
        print(f"{verb + ' ' if verb else ''}{action:<9} {step.target}", file=env.stdout)
    if result.dry_run:
        conflicts = [s for s in result.steps if s.action.value == "conflict"]
        if conflicts:
            print(f"{len(conflicts)} file(s) differ; --force would replace them", file=env.stdout)
    else:
        print(f"{result.answers.name}: {len(result.steps)} files in {request.dest}", file=env.stdout)
    return ExitCode.OK


def _cmd_presets(args: argparse.Namespace, env: Environment) -> int:
    import json

    from generator.core.errors import UsageError
    from generator.scaffold import presets

    if args.action == "show":
        if not args.name:
            raise UsageError("presets show: which preset? (see `hardcase presets`)")
        preset = presets.find(args.name, args.presets_dir)
        if args.format == "json":
            json.dump({"name": preset.name, "language": preset.language, "description": preset.description,
                       "answers": preset.answers}, env.stdout, indent=2)
            print(file=env.stdout)
        else:
            from generator.scaffold.answers import QUESTION_BY_KEY

            print(f"{preset.name}: {preset.description}", file=env.stdout)
            for key, value in preset.answers.items():
                help_line = QUESTION_BY_KEY[key].help if key in QUESTION_BY_KEY else ""
                print(f"  {key:<16} {value!s:<24} {help_line}", file=env.stdout)
        return ExitCode.OK
    found = presets.available(args.presets_dir)
    if args.format == "json":
        json.dump([{"name": p.name, "language": p.language, "description": p.description} for p in found],
                  env.stdout, indent=2)
        print(file=env.stdout)
    else:
        for preset in found:
            print(f"{preset.name:<16} {preset.language:<8} {preset.description}", file=env.stdout)
    return ExitCode.OK


def _cmd_seccomp(args: argparse.Namespace, env: Environment) -> int:

    from generator.cli import seccomp as cli_seccomp
    from generator.core.errors import UsageError
    from generator.profiles import seccomp, seccomp_check

    if args.seccomp_command in cli_seccomp.SECCOMP_ACTIONS:
        return cli_seccomp.SECCOMP_ACTIONS[args.seccomp_command](args, env)
    if args.seccomp_command == "generate":
        if args.runtime not in seccomp.RUNTIMES:
            raise UsageError(f"unknown runtime '{args.runtime}' (known: {', '.join(seccomp.RUNTIMES)})")
        text = seccomp.render_profile(args.runtime)
        if args.output is None:
            env.stdout.write(text)
            return ExitCode.OK
        from generator.scaffold.write import write_output

        write_output(args.output, text, args.force)
        print(f"{args.output}: {len(seccomp.allowed_syscalls(args.runtime))} syscalls allowed", file=env.stdout)
        return ExitCode.OK
    profile = seccomp_check.load_profile(args.profile)
    problems = seccomp_check.validate_profile(profile)
    for problem in problems:
        print(f"{args.profile}: {problem}", file=env.stdout)
    if not problems:
        print(f"{args.profile}: ok (compiles for x86_64 and aarch64)", file=env.stdout)
    return ExitCode.FINDINGS if problems else ExitCode.OK


COMMANDS = {"new": _cmd_new, "check": _cmd_check, "harden": _cmd_harden, "pin": _cmd_pin,
            "verify": _cmd_verify, "presets": _cmd_presets, "seccomp": _cmd_seccomp}


def main(argv: list[str] | None = None, env: Environment | None = None) -> int:
    env = env or Environment()
    argv = sys.argv[1:] if argv is None else argv
    parser = _build_parser(next((a for a in argv if not a.startswith("-")), None))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse reports usage errors itself
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(env.stdout)
        return ExitCode.USAGE
    try:
        from generator.cli import platform as cli_platform
        from generator.cli import seccomp as cli_seccomp

        return {**COMMANDS, **cli_platform.COMMANDS, **cli_seccomp.COMMANDS}[args.command](args, env)
    except HardcaseError as exc:
        print(f"hardcase: error: {exc}", file=env.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hardcase: interrupted", file=env.stderr)
        return ExitCode.INTERRUPTED


def _path(value: str) -> Path:
    from pathlib import Path

    return Path(value)


def entry() -> None:
    if sys.argv[1:2] == ["check"]:
        from generator.cli.check import fast_main

        status = fast_main(sys.argv[2:])
        if status is not None:
            sys.exit(status)
    sys.exit(main())
