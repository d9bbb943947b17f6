"""`hardcase new` and `hardcase presets`: the generate flow's command line (generator.scaffold)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from generator.cli.options import add_policy_option, add_presets_dir
from generator.core.errors import ExitCode, UsageError
from generator.core.terminal import printable

if TYPE_CHECKING:
    from generator.cli.env import Command, Environment


def _answer_keys() -> str:
    from generator.scaffold.answers import QUESTIONS

    return "\n".join(f"  {q.key:<16} {q.help}" for q in QUESTIONS)


def add_new_options(new: argparse.ArgumentParser) -> None:
    new.add_argument("--template", metavar="DIR|GIT-URL|ZIP",
                     help="a custom cookiecutter-format template (see docs/templates.md)")
    new.add_argument("--checkout", metavar="REF", help="branch, tag or commit of a git --template")
    new.add_argument("--trust-template-hooks", action="store_true",
                     help="run the custom template's hooks (never run otherwise)")
    add_presets_dir(new)
    add_policy_option(new)


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                command: str | None) -> dict[str, Command]:
    """`new` and `presets`; the answer-key epilog of `new` is only built for `new` (it loads the catalog)."""
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
    add_new_options(new)

    presets = commands.add_parser("presets", help="list presets or show one")
    presets.add_argument("action", nargs="?", choices=["list", "show"], default="list",
                         help="list: every preset, one line each (default); show: one preset's answers")
    presets.add_argument("name", nargs="?", help="preset to show")
    presets.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    add_presets_dir(presets)
    return {"new": _cmd_new, "presets": _cmd_presets}


def _cmd_new(args: argparse.Namespace, env: Environment) -> int:
    from generator.scaffold.new import NewRequest, run

    interactive = env.stdin_isatty and not args.no_input
    ask = None
    if interactive:
        from generator.scaffold.questions import ask as questionary_ask

        ask = questionary_ask
    request = NewRequest(
        dest=Path(args.dest), preset=args.preset, answers_file=args.answers,
        sets=[*args.sets, "apparmor=true"] if args.apparmor else args.sets,
        with_app=args.with_app, registry_mirror=args.registry_mirror, force=args.force,
        dry_run=args.dry_run, ask=ask, template=args.template, checkout=args.checkout,
        trust_template_hooks=args.trust_template_hooks, presets_dir=args.presets_dir, policy_file=args.policy,
    )
    result = run(request)
    for note in result.notes:  # notes and targets quote answers, presets and templates: escaped
        print(printable(f"note: {note}"), file=env.stdout)
    verb = "would" if result.dry_run else ""
    for step in result.steps:
        action = step.action.value
        print(printable(f"{verb + ' ' if verb else ''}{action:<9} {step.target}"), file=env.stdout)
    if result.dry_run:
        conflicts = [s for s in result.steps if s.action.value == "conflict"]
        if conflicts:
            print(f"{len(conflicts)} file(s) differ; --force would replace them", file=env.stdout)
    else:
        print(printable(f"{result.answers.name}: {len(result.steps)} files in {request.dest}"), file=env.stdout)
    return ExitCode.OK


def _cmd_presets(args: argparse.Namespace, env: Environment) -> int:
    import json

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

            # An org preset's name, description and answers are input: escaped.
            print(printable(f"{preset.name}: {preset.description}"), file=env.stdout)
            for key, value in preset.answers.items():
                help_line = QUESTION_BY_KEY[key].help if key in QUESTION_BY_KEY else ""
                print(printable(f"  {key:<16} {value!s:<24} {help_line}"), file=env.stdout)
        return ExitCode.OK
    found = presets.available(args.presets_dir)
    if args.format == "json":
        json.dump([{"name": p.name, "language": p.language, "description": p.description} for p in found],
                  env.stdout, indent=2)
        print(file=env.stdout)
    else:
        for preset in found:
            print(printable(f"{preset.name:<16} {preset.language:<8} {preset.description}"), file=env.stdout)
    return ExitCode.OK
