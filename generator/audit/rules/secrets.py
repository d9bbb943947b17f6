"""Secrets never go into ENV or ARG: both end up in the image (config or history) for anyone who pulls it."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

from generator.audit.dockerfile import Instruction, ParsedDockerfile
from generator.audit.model import Edit, Fix, FixSafety, Rule, Severity, Violation
from generator.audit.rules._support import (
    command_start,
    comment_free,
    keyword_end,
    posix_shell,
    replace_instruction,
    unquoted_positions,
)

SECRET_NAME_RE = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|ACCOUNT_?KEY|CREDENTIALS?"
    r"|^AWS_(?!REGION|DEFAULT_REGION)"
    # Keys that sign or encrypt: Laravel's APP_KEY, WordPress's AUTH_KEY … and *_SALT, JWT and session keys.
    r"|(?:^|_)(?:APP|AUTH|SECURE_AUTH|LOGGED_IN|NONCE|SIGNING|ENCRYPTION|MASTER|JWT|SESSION)_*KEY$|_SALT$)",
    re.IGNORECASE)
NOT_SECRET_NAME_RE = re.compile(r"(_FILE|_PATH|_DIR|_URL|_ID|_REGION|_HOST|_PORT|_USER|_NAME)$", re.IGNORECASE)
# Credentials inside a URL: `scheme://user:password@host` (DATABASE_URL, MONGO_URL, REDIS_URL,
# MAIL_URL, a Sentry DSN …) or a connection string (`…;Password=…;`), unless the password is a
# variable reference. The scheme is matched from the start of its word only (to its first letter), so
# a long word without `://` is read once rather than once from each of its letters.
SECRET_VALUE_RE = re.compile(
    r"((?<![\w+.-])(?:(?![A-Za-z])[\w+.-])*[A-Za-z][\w+.-]*://[^/\s:@]*:(?!\$)[^/\s@]+@"
    r"|(?i:(?:^|;)\s*(?:password|pwd)\s*=\s*(?!\$)[^;\s]+)"
    r"|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{20,}|glpat-[\w-]{20}|xox[abprs]-[\w-]{10,}"
    r"|sk_live_\w{16,}|-----BEGIN [A-Z ]*PRIVATE KEY|AIza[0-9A-Za-z_-]{35})")


def _pairs(instruction: Instruction) -> list[tuple[str, str | None]]:
    """(name, value) pairs of an ENV or ARG (BuildKit hands ENV over as name, value, name, value…)."""
    if instruction.keyword == "ENV":
        values = instruction.value
        return [(values[i], values[i + 1] if i + 1 < len(values) else "") for i in range(0, len(values), 2)]
    pairs: list[tuple[str, str | None]] = []
    for word in instruction.value:
        name, eq, value = word.partition("=")
        pairs.append((name, value if eq else None))
    return pairs


def _is_secret(name: str, value: str | None) -> bool:
    if value is not None and SECRET_VALUE_RE.search(value):
        return True
    if NOT_SECRET_NAME_RE.search(name) or (value is not None and value.startswith("/run/secrets/")):
        return False
    return bool(SECRET_NAME_RE.search(name))


def check_secrets(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks `ENV` and `ARG` for secrets: names such as `*PASSWORD*`, `*SECRET*`, `*TOKEN*`,
    `*API_KEY*`, `AWS_*`, signing keys (`APP_KEY`, `AUTH_KEY`, `*_SALT`, `JWT_KEY`), and values
    that look like keys (`AKIA…`, `ghp_…`, `-----BEGIN … PRIVATE KEY`) or carry a password: in a
    URL (`DATABASE_URL=postgres://user:password@host/db`, any `scheme://user:password@`) or in a
    connection string (`…;Password=…;`).

    Why is this bad?
    `ENV` values are stored in the image configuration and `ARG` values in its build history:
    everyone who can pull the image can read them (CIS Docker Benchmark 4.10).

    Example:
    ```dockerfile
    ARG NPM_TOKEN
    RUN npm ci
    ```

    Use instead:
    ```dockerfile
    RUN --mount=type=secret,id=npm_token NPM_TOKEN="$(cat /run/secrets/npm_token)" && export NPM_TOKEN && npm ci
    ```
    and build with `docker build --secret id=npm_token,env=NPM_TOKEN .` (or `src=FILE`).

    Fix safety:
    Needs review. The fix removes the declaration and, for each `RUN` of the same stage that uses the
    variable, mounts a build secret named after it and exports it for that command only. The build
    then needs `--secret`; a value the application read from `ENV` at run time must be passed at run
    time instead (a secrets file). Unquoted uses of the variable in that `RUN` are quoted (a secret
    is one word; shell word splitting of it is not kept). A global `ARG` (before the first `FROM`) is
    removed together with the `ARG NAME` lines that bring it into stages, whose uses are moved the
    same way. Uses outside `RUN` (in `CMD`, a `FROM` line, a later stage that inherits the `ENV`) and
    `RUN`s of a non-POSIX shell (Windows, PowerShell) are only reported.
    """
    for instruction in parsed.instructions:
        if instruction.keyword not in ("ENV", "ARG"):
            continue
        for name, value in _pairs(instruction):
            if _is_secret(name, value):
                where = "build history" if instruction.keyword == "ARG" else "image configuration"
                yield SECRETS.violation(instruction.start_line, f"{instruction.keyword} {name} ends up in the {where}",
                                        instruction=instruction.index)


def _uses(name: str, text: str) -> bool:
    return re.search(rf"\$(?:{re.escape(name)}\b|\{{{re.escape(name)}\b)", text) is not None


def _unquoted_uses(name: str, text: str) -> list[tuple[int, int]]:
    """Spans of `$NAME` / `${NAME}` that are outside single and double quotes (shell word splitting applies)."""
    use = re.compile(rf"\$(?:{re.escape(name)}\b|\{{{re.escape(name)}\}})")
    return [(match.start(), match.end()) for i in unquoted_positions(text)
            if text[i] == "$" and (match := use.match(text, i))]


def _without(parsed: ParsedDockerfile, declaration: Instruction, names: list[str]) -> Edit:
    """The ENV/ARG rewritten without NAMES (removed when nothing else is left)."""
    kept = [(n, v) for n, v in _pairs(declaration) if n not in names]
    keyword = parsed.source(declaration).split(None, 1)[0]
    line = [f"{keyword} " + " ".join(n if v is None else f"{n}={v}" for n, v in kept)] if kept else []
    return replace_instruction(parsed, declaration, line)


IDENTIFIER_RE = re.compile(r"[A-Za-z_]\w*")
USE_RE = re.compile(r"\$\{?([A-Za-z_]\w*)")


def _users_of(parsed: ParsedDockerfile, name: str, after: int) -> list[int]:
    """Indexes of the instructions after AFTER whose text may use $NAME: from an index of every
    variable the file uses, built once (scanning the file again for each declaration is quadratic)."""
    def index() -> dict[str, list[int]]:
        uses: dict[str, list[int]] = {}
        for instruction in parsed.instructions:
            for used in set(USE_RE.findall(parsed.source(instruction))):
                uses.setdefault(used, []).append(instruction.index)
        return uses

    if not IDENTIFIER_RE.fullmatch(name):  # not a name the index spells: every later instruction
        return list(range(after + 1, len(parsed.instructions)))
    found = parsed.remember("variable uses", index).get(name, [])
    return found[bisect.bisect_right(found, after):]


def _redeclared(parsed: ParsedDockerfile, name: str, valued: bool = True) -> list[int]:
    """Indexes of the ENV/ARG instructions that give NAME a value (VALUED), or of the stage ARGs that
    declare it without one (how a global ARG reaches a stage)."""
    def index() -> dict[tuple[str, bool], list[int]]:
        declared: dict[tuple[str, bool], list[int]] = {}
        for instruction in parsed.instructions:
            if instruction.keyword in ("ENV", "ARG"):
                keys = {(n, v is not None) for n, v in _pairs(instruction) if v is not None or instruction.stage >= 0}
                for key in keys:
                    declared.setdefault(key, []).append(instruction.index)
        return declared

    return parsed.remember("declarations", index).get((name, valued), [])


def _redeclaration(parsed: ParsedDockerfile, declaration: Instruction, name: str) -> int:
    """The index of the next instruction of the stage that gives NAME a value again (else past the end)."""
    later = _redeclared(parsed, name)
    position = bisect.bisect_right(later, declaration.index)
    if position < len(later) and parsed.instructions[later[position]].stage == declaration.stage:
        return later[position]
    return len(parsed.instructions)


def _moved_to_secrets(parsed: ParsedDockerfile, declaration: Instruction, names: list[str]) -> list[Edit] | None:
    """Edits that drop NAMES from a stage's ENV/ARG and give every RUN of the stage that uses them a
    secret mount instead, up to where the stage declares the name again; None when a use cannot be
    moved (not a POSIX-shell RUN, or a later stage that inherits an ENV)."""
    edits = [_without(parsed, declaration, names)]
    until = {n: _redeclaration(parsed, declaration, n) for n in names}
    candidates = sorted({i for n in names for i in _users_of(parsed, n, declaration.index) if i <= until[n]})
    for index in candidates:
        later = parsed.instructions[index]
        if declaration.keyword == "ARG" and later.stage != declaration.stage:
            break  # an ARG is in scope until the end of its stage; later stages declare their own
        used = [n for n in names if index <= until[n] and _uses(n, parsed.source(later))]
        if not used:
            continue
        if (later.keyword != "RUN" or later.stage != declaration.stage or later.json or later.heredocs
                or not posix_shell(parsed, later.stage)):
            return None
        prefix = "".join(f" --mount=type=secret,id={n.lower()}" for n in used)
        exports = "".join(f'{n}="$(cat /run/secrets/{n.lower()})" && export {n} && ' for n in used)
        start = keyword_end(parsed, later)
        begin = command_start(parsed, later)
        if begin is None:
            return None
        edits.append(Edit.insert(start, prefix))
        edits.append(Edit.insert(begin, exports))
        # Quote the uses: the value now comes from a command substitution, and a secret is one word.
        body = comment_free(parsed, later)[begin - later.start:]
        for n in used:
            for first, last in _unquoted_uses(n, body):
                if first == 0:
                    continue  # the exports go there; a command that is the secret itself stays as written
                edits += [Edit.insert(begin + first, '"'), Edit.insert(begin + last, '"')]
    return edits


def _global_moved_to_secrets(parsed: ParsedDockerfile, declaration: Instruction, names: list[str]) -> list[Edit] | None:
    """A global ARG (before the first FROM) reaches a stage only through an `ARG NAME` without a
    value there: drop it, and move each such redeclaration's uses to secret mounts. Not when a FROM
    line uses it (an image name is no secret to mount)."""
    users = {i for n in names for i in _users_of(parsed, n, -1)}
    if any(parsed.instructions[i].keyword == "FROM" and any(_uses(n, parsed.source(parsed.instructions[i]))
                                                            for n in names) for i in users):
        return None
    edits = [_without(parsed, declaration, names)]
    for index in sorted({i for n in names for i in _redeclared(parsed, n, valued=False)}):
        instruction = parsed.instructions[index]
        if instruction.keyword == "ARG":
            inherited = [n for n, v in _pairs(instruction) if n in names and v is None]
            moved = _moved_to_secrets(parsed, instruction, inherited) if inherited else []
            if moved is None:
                return None
            edits += moved
    return edits


def fix_secrets(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    declaration = parsed.instructions[violation.instruction]
    secret = [n for n, v in _pairs(declaration) if _is_secret(n, v)]
    if declaration.stage < 0:
        edits = _global_moved_to_secrets(parsed, declaration, secret)
    else:
        edits = _moved_to_secrets(parsed, declaration, secret)
    if edits is None:
        return None
    return Fix(tuple(edits), FixSafety.NEEDS_REVIEW, "moved to build secrets: " + ", ".join(secret))


SECRETS = Rule("HC030", "secret-in-env-or-arg", Severity.ERROR, "secret in ENV/ARG", "4.10", None,
               check_secrets, fix_secrets, FixSafety.NEEDS_REVIEW)
RULES = (SECRETS,)
