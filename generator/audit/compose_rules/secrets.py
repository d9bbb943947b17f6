"""Secrets passed as environment variables, and moving them to file secrets read as `NAME_FILE`.

What is written where: a literal value (`POSTGRES_PASSWORD: example`) moves out of the compose file
into `secrets/SERVICE_VARIABLE` beside the hardened file (mode 0600, only written with `-o` or
`--in-place`, never over a different existing file), declared as a top-level file secret, mounted
at `/run/secrets/SERVICE_VARIABLE` and passed as `VARIABLE_FILE`. The value is never printed.
A value taken from the host environment (`${DB_PASSWORD}`) is only reported: hardcase does not
know it, and Compose refuses `environment:`-sourced secrets in a read-only service.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from generator.audit.compose import ParsedCompose, Service
from generator.audit.compose_rules._support import (
    environment,
    image_info,
    mapping,
    merged_source,
    own,
    runs_as_root,
    seq,
    set_key,
    writable,
)
from generator.audit.model import ComposeFix, ComposeRule, FixSafety, Severity, Violation

SECRET_NAME_RE = re.compile(r"(PASSWORD|PASSWD|PASS$|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIALS?)",
                            re.IGNORECASE)


def _secret_vars(service: Service) -> Iterator[tuple[str, str, int]]:
    """Variables named like a secret, and any variable whose value carries one (a password inside a
    URL such as `DATABASE_URL=postgres://user:password@db/app`, a cloud or CI token)."""
    from generator.audit.rules.secrets import SECRET_VALUE_RE

    for name, value, line in environment(service):
        if name.upper().endswith("_FILE"):
            continue
        text = "" if value is None else str(value)
        if not text or text.startswith("/run/secrets/"):
            continue
        if SECRET_NAME_RE.search(name) or SECRET_VALUE_RE.search(text):
            yield name, text, line


def check_env_secrets(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that no service passes a secret (a variable named like `*PASSWORD*`, `*SECRET*`,
    `*TOKEN*`, `*API_KEY*`, …, or a value that holds one: a password inside a URL such as
    `DATABASE_URL=postgres://user:password@db/app`, a cloud or CI token) as a plain environment
    variable.

    Why is this bad?
    Environment variables show in `docker inspect`, in `/proc/*/environ`, in crash reports and in
    every child process, and a literal value sits in a file that is usually committed; a file
    secret is readable only where it is mounted (CIS Docker Benchmark 4.10).

    Example:
    ```yaml
    services:
      db:
        image: postgres:16
        environment:
          POSTGRES_PASSWORD: example
    ```

    Use instead:
    ```yaml
    services:
      db:
        image: postgres:16
        environment:
          POSTGRES_PASSWORD_FILE: /run/secrets/db_postgres_password
        secrets: [db_postgres_password]
    secrets:
      db_postgres_password:
        file: ./secrets/db_postgres_password
    ```

    Fix safety:
    Needs review. Only for images in hardcase's image knowledge that read `NAME_FILE` for the
    variable and start as root (the entrypoint reads the file before it drops privileges; the file
    is written mode 0600), only for literal values, and only when the hardened file is written
    (`-o`, `--in-place`): the value moves to `secrets/SERVICE_VARIABLE` beside it. Values from the
    host environment, and images that do not read `NAME_FILE`, are reported for the owner to move.
    """
    for service in parsed.services:
        for name, _, line in _secret_vars(service):
            yield ENV_SECRET.violation(line, f"{service.name}: {name}", service=service.index)


def _secret_name(parsed: ParsedCompose, service: Service, variable: str, value: str) -> str:
    import os

    base = re.sub(r"[^a-z0-9_]+", "_", f"{service.name}_{variable}".lower())
    taken = set(parsed.data.get("secrets") or {})
    name, number = base, 2
    while name in taken or _other_file(os.path.join(parsed.secrets_dir or "", "secrets", name), value):
        name, number = f"{base}_{number}", number + 1
    return name


def _other_file(path: str, value: str) -> bool:
    """A file is already there with something else in it: never overwritten, another name is used."""
    from generator.core.errors import read_regular

    try:
        return read_regular(path).decode("utf-8") != value  # a FIFO there is refused, not read (it would hang)
    except FileNotFoundError:
        return False
    except (OSError, UnicodeDecodeError):
        return True


def _references(node: object, target: object, seen: set[int]) -> int:
    """How often TARGET is used below NODE: as a value (an alias, or the anchor's own definition) or
    as a merge source (`<<: *x`)."""
    if id(node) in seen:
        return 0
    seen.add(id(node))
    count = 0
    if isinstance(node, dict):
        count += sum(1 for source in getattr(node, "merge", ()) or () if source is target)
        values = [value for key, value in node.items() if own(node, key)]
    elif isinstance(node, list):
        values = list(node)
    else:
        return 0
    for value in values:
        count += 1 if value is target else _references(value, target, seen)
    return count


def _removable(parsed: ParsedCompose, env: object, variable: str) -> bool:
    """A variable the service sets itself can be replaced; one merged in from an anchor only when
    that anchor is defined once and merged only here: `NAME` and `NAME_FILE` together stop the
    official images' entrypoints, so the value must leave the anchor, and no other service may
    lose it."""
    source = merged_source(env, variable)
    if source is None:
        return True
    return _references(parsed.data, source, set()) <= 2  # its definition and this merge


def fix_env_secrets(parsed: ParsedCompose, violation: Violation) -> ComposeFix | None:
    service = parsed.services[violation.instruction]
    info = image_info(service)
    if info is None or parsed.secrets_dir is None or not runs_as_root(service, info):
        return None
    existing = {name for name, _, _ in environment(service)}
    moves = [(variable, value) for variable, value, line in _secret_vars(service)
             if line == violation.line and variable in info.file_env and "$" not in value
             and f"{variable}_FILE" not in existing
             and _removable(parsed, service.node.get("environment"), variable)]
    if not moves:
        return None
    names = {variable: _secret_name(parsed, service, variable, value) for variable, value in moves}

    def apply() -> None:
        from ruamel.yaml.comments import CommentedMap

        if not isinstance(parsed.data.get("secrets"), dict):
            parsed.data["secrets"] = mapping({})
        env = writable(service, "environment")
        for variable, _ in moves:
            if variable not in {name for name, _, _ in environment(service)}:
                continue  # moved by the finding of a variable on the same (flow-style) line
            secret = names[variable]
            parsed.data["secrets"][secret] = mapping({"file": f"./secrets/{secret}"})
            target = f"/run/secrets/{secret}"
            source = merged_source(env, variable) if isinstance(env, CommentedMap) else None
            if source is not None:
                comment = source.ca.items.pop(variable, None) if isinstance(source, CommentedMap) else None
                # Deleting from a merged mapping updates its referers through ruamel's
                # update_key_value, which indexes the merge list the pre-0.19 way; the referer here
                # is ENV, whose copy of the key goes next anyway.
                referers, source._ref = source._ref, []
                try:
                    del source[variable]
                finally:
                    source._ref = referers
                del env[variable]
                env[f"{variable}_FILE"] = target
                if comment is not None:
                    env.ca.items[f"{variable}_FILE"] = comment
            elif isinstance(env, CommentedMap):
                position = list(env).index(variable)
                comment = env.ca.items.pop(variable, None)
                del env[variable]
                env.insert(position, f"{variable}_FILE", target)
                if comment is not None:
                    env.ca.items[f"{variable}_FILE"] = comment
            else:
                position = next(i for i, item in enumerate(env) if str(item).partition("=")[0] == variable)
                env[position] = f"{variable}_FILE={target}"
            current = service.node.get("secrets")
            if isinstance(current, list):
                writable(service, "secrets").append(secret)
            else:
                set_key(service, "secrets", seq([secret]))

    listed = ", ".join(f"{v} -> {v}_FILE (value moved to secrets/{names[v]})" for v, _ in moves)
    files = tuple((f"secrets/{names[v]}", value) for v, value in moves)
    return ComposeFix(FixSafety.NEEDS_REVIEW, f"{service.name}: {listed}", apply, files)


ENV_SECRET = ComposeRule("HC140", "compose-secret-in-environment", Severity.WARNING, "secret passed as an "
                         "environment variable", "4.10", check_env_secrets, fix_env_secrets, FixSafety.NEEDS_REVIEW)
RULES = (ENV_SECRET,)
