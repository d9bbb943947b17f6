"""The compose check engine and `harden` for compose files.

Suppression works as for Dockerfiles: a comment line directly above a key,
`# hardcase ignore=HC121,HC126`, suppresses those rules' findings on that key's line; above a
service's name it suppresses them for the whole service. `.hardcase-check.yaml` ignores apply too.

`harden` runs the rules, applies the fixes it may (safe ones, needs-review ones with
`unsafe=True`) to the round-trip tree, writes out only the lines the fixes changed (see
`ParsedCompose.edited`: every other line stays byte for byte what the user wrote), parses the file
again and repeats until nothing changes (bounded), so each pass sees what the previous one did.
"""

from __future__ import annotations

from generator.audit.compose import ParsedCompose, attach_trailing, detach_trailing, parse_compose
from generator.audit.compose_rules import COMPOSE_RULES
from generator.audit.fix import MAX_PASSES, HardenResult
from generator.audit.lint import IGNORE_RE, Config
from generator.audit.model import AppliedFix, ComposeFix, Fix, FixSafety, Violation
from generator.core.record import replace


def _ignored(parsed: ParsedCompose) -> dict[int, set[str]]:
    """Line number → rule IDs suppressed there."""
    lines = parsed.text.splitlines()

    def above(line: int) -> set[str]:
        ids: set[str] = set()
        index = line - 2
        while index >= 0 and lines[index].strip().startswith("#"):
            match = IGNORE_RE.match(lines[index].strip())
            if match:
                ids.update(part.strip().upper() for part in match.group(1).split(",") if part.strip())
            index -= 1
        return ids

    ignored: dict[int, set[str]] = {}
    for number in range(1, len(lines) + 1):
        ids = above(number)
        if ids:
            ignored.setdefault(number, set()).update(ids)
    services = parsed.services
    ends = [s.line for s in services[1:]] + [len(lines) + 1]
    for service, end in zip(services, ends, strict=True):
        ids = above(service.line)
        for number in range(service.line, end):
            if ids:
                ignored.setdefault(number, set()).update(ids)
    return ignored


def check_with_fixes(parsed: ParsedCompose, config: Config) -> list[tuple[Violation, ComposeFix | None]]:
    """Findings in rule order, each with the fix that would remove it (None when there is none)."""
    ignored = _ignored(parsed)
    found: list[tuple[Violation, ComposeFix | None]] = []
    for rule in COMPOSE_RULES:
        if rule.id in config.ignore or (config.select is not None and rule.id not in config.select):
            continue
        for violation in sorted(rule.check(parsed), key=lambda v: v.line):
            if violation.rule_id in ignored.get(violation.line, ()):
                continue
            found.append((violation, rule.fix(parsed, violation) if rule.fix is not None else None))
    return found


def _described(violation: Violation, fix: ComposeFix | None) -> Violation:
    """The violation with a text-free `Fix` saying how (and whether) harden can fix it, for the reports."""
    return replace(violation, fix=Fix((), fix.safety, fix.note) if fix is not None else None)


def check(parsed: ParsedCompose, config: Config) -> list[Violation]:
    """Findings, each saying whether `harden` can fix it (see `_described`)."""
    return [_described(violation, fix) for violation, fix in check_with_fixes(parsed, config)]


def mark_public(parsed: ParsedCompose, names: list[str]) -> None:
    """`--public SERVICE`: record it in the file (`x-hardcase: {public: true}`) so `check` agrees later."""
    from generator.audit.compose_rules._support import mapping
    from generator.core.errors import UsageError

    services = {service.name: service for service in parsed.services}
    for name in names:
        if name not in services:
            raise UsageError(f"--public {name}: no such service (services: {', '.join(services) or 'none'})")
        node = services[name].node
        marker = node.get("x-hardcase")
        if not isinstance(marker, dict):
            node["x-hardcase"] = mapping({"public": True})
        elif marker.get("public") is not True:
            marker["public"] = True


def harden(text: str, origin: str, config: Config, unsafe: bool = False, public: list[str] | None = None,
           secrets_dir: str | None = None, files: dict[str, str] | None = None) -> HardenResult:
    """Harden TEXT. With SECRETS_DIR (the directory the hardened file goes to), fixes may move secret
    values into files; those are added to FILES (path relative to SECRETS_DIR → content) for the
    caller to write together with the hardened file."""

    original = text
    parsed = parse_compose(text, origin)
    parsed.secrets_dir = secrets_dir
    if public:
        before = parsed.dump()
        mark_public(parsed, public)
        parsed = parsed.edited(before)
    applied: list[AppliedFix] = []
    for _ in range(MAX_PASSES):
        chosen = [(v, f) for v, f in check_with_fixes(parsed, config)
                  if f is not None and (unsafe or f.safety is FixSafety.SAFE)]
        if not chosen:
            break
        before = parsed.dump()
        blocks = parsed.blocks()
        trailing = [(block, detach_trailing(block)) for block in blocks]
        for _, fix in chosen:
            fix.apply()
            if files is not None:
                files.update(fix.files)
        for block, rest in reversed(trailing):
            attach_trailing(block, rest)
        applied.extend(AppliedFix(_described(v, f), Fix((), f.safety, f.note)) for v, f in chosen)
        text = parsed.text
        parsed = parsed.edited(before)
        if parsed.text == text:
            break
    remaining = [_described(v, f) for v, f in check_with_fixes(parsed, config)]
    return HardenResult(original, parsed.text, applied, remaining)
