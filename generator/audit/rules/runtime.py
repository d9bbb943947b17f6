"""How the container starts and is watched: exec form, a health check, no SSH, clear metadata."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from generator.audit.dockerfile import Instruction, ParsedDockerfile, Stage
from generator.audit.model import Edit, Fix, FixSafety, Rule, Severity, Violation
from generator.audit.rules._support import (
    command_start,
    image_of,
    insert_at_runtime,
    install_lists,
    replace_instruction,
    workdir_path,
)

SHELL_META_RE = re.compile(r"[$`|&;<>(){}\[\]*?~'\"\\#!\n]")
HEALTH_OPTIONS = "--interval=30s --timeout=5s --start-period=15s --retries=3"


def check_exec_form(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks that `CMD` and `ENTRYPOINT` use the exec (JSON) form.

    Why is this bad?
    In shell form the process runs under `/bin/sh -c`: the shell is PID 1, `docker stop`'s SIGTERM
    never reaches the application, which is killed after the timeout without a clean shutdown.

    Example:
    ```dockerfile
    CMD python app.py
    ```

    Use instead:
    ```dockerfile
    CMD ["python", "app.py"]
    ```

    Fix safety:
    Safe for a `CMD` without shell syntax (no variables, quotes, globs, pipes or redirections) when
    the stage has no `ENTRYPOINT` and no `SHELL`: the same program gets the same arguments. Needs
    review for `ENTRYPOINT` (exec form receives `CMD` as arguments, shell form ignores it) and for a
    `CMD` next to an `ENTRYPOINT`. Commands with shell syntax are reported only.
    """
    for instruction in parsed.instructions:
        if instruction.keyword in ("CMD", "ENTRYPOINT") and not instruction.json and instruction.stage >= 0:
            yield EXEC_FORM.violation(instruction.start_line, f"{instruction.keyword} in shell form",
                                      instruction=instruction.index)


def fix_exec_form(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    instruction = parsed.instructions[violation.instruction]
    command = " ".join(instruction.value)
    words = command.split()
    if not words or SHELL_META_RE.search(command) or "=" in words[0]:
        return None
    stage = parsed.stages[instruction.stage]
    keywords = parsed.remember(("keywords", stage.index), lambda: {i.keyword for i in parsed.stage_instructions(stage)})
    if "SHELL" in keywords:
        return None
    safe = instruction.keyword == "CMD" and "ENTRYPOINT" not in keywords
    keyword = parsed.source(instruction).split(None, 1)[0]
    import json

    edit = replace_instruction(parsed, instruction, [f"{keyword} {json.dumps(words)}"])
    return Fix((edit,), FixSafety.SAFE if safe else FixSafety.NEEDS_REVIEW, "exec form")


def _ports(parsed: ParsedDockerfile) -> list[str]:
    return [word for i in parsed.stage_instructions(parsed.final_stage) if i.keyword == "EXPOSE"
            for word in " ".join(i.value).split()]


def check_healthcheck(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks that an image which `EXPOSE`s a port has a `HEALTHCHECK`.

    Why is this bad?
    Without one, Docker reports a hung service as running and nothing restarts or replaces it
    (CIS Docker Benchmark 4.6).

    Example:
    ```dockerfile
    FROM python:3.13-slim-trixie
    EXPOSE 8000
    CMD ["python", "app.py"]
    ```

    Use instead:
    ```dockerfile
    FROM python:3.13-slim-trixie
    EXPOSE 8000
    HEALTHCHECK CMD ["python", "-c", "import socket; socket.create_connection(('127.0.0.1', 8000), 3)"]
    CMD ["python", "app.py"]
    ```

    Fix safety:
    Needs review. The probe must be a program the image has: the Python or Node interpreter of a
    python/node image (a TCP connect to the first exposed port), else curl or wget when the image
    installs them (an HTTP request to `/`). Point it at the service's health endpoint. Images with
    none of these are reported only.
    """
    stage = parsed.final_stage
    ports = _ports(parsed)
    healthchecks = [i for i in parsed.stage_instructions(stage) if i.keyword == "HEALTHCHECK"]
    if ports and not healthchecks:
        where = parsed.instructions[stage.from_instruction]
        yield HEALTHCHECK.violation(where.start_line, f"port {ports[0]} is exposed", instruction=where.index)


def _probe(parsed: ParsedDockerfile, port: str) -> list[str] | None:
    image = image_of(parsed, parsed.final_stage).lower().rsplit("/", 1)[-1]
    runs = " ".join(i.command for i in parsed.stage_instructions(parsed.final_stage) if i.keyword == "RUN")
    if re.match(r"(python|pypy)\b", image) and "distroless" not in image:
        code = f"import socket; socket.create_connection(('127.0.0.1', {port}), 3)"
        return ["python", "-c", code]
    if image.startswith("node") and "distroless" not in image:
        # `function` rather than arrow functions: node images older than 4 reject `=>`.
        code = (f"require('net').connect({port}, '127.0.0.1')"
                ".on('connect', function () { process.exit(0); }).on('error', function () { process.exit(1); })")
        return ["node", "-e", code]
    installs = install_lists(runs)
    packages = {word.split("=", 1)[0] for word in " ".join(installs).split()}  # `curl=7.88.1-10` is curl
    if "curl" in packages:
        return ["curl", "-fs", "-o", "/dev/null", f"http://127.0.0.1:{port}/"]  # -f: an HTTP error is unhealthy
    if "wget" in packages:
        return ["wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}/"]
    return None


def fix_healthcheck(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    port = _ports(parsed)[0].split("/")[0]
    if not port.isdigit() or _ports(parsed)[0].endswith("/udp"):
        return None
    probe = _probe(parsed, port)
    if probe is None:
        return None
    import json

    line = f"HEALTHCHECK {HEALTH_OPTIONS} CMD {json.dumps(probe)}"
    edit = insert_at_runtime(parsed, parsed.final_stage, frozenset({"RUN", "COPY", "ADD", "USER", "EXPOSE"}), [line])
    return Fix((edit,), FixSafety.NEEDS_REVIEW, f"health check with {probe[0]}")


SSH_PACKAGE_RE = re.compile(r"\b(?:openssh-server|dropbear)\b|(?:^|[\s/\"])sshd\b"
                            r"|\b(?:rc-)?service\s+ssh\s+start\b|/etc/init\.d/ssh\s+start\b")
# Starting the SSH daemon in the background (it forks unless given -D): `service ssh start`,
# `/etc/init.d/ssh start`, `rc-service sshd start`, `/usr/sbin/sshd`.
SSHD_START = (r"(?:(?:service|rc-service)[ \t]+sshd?[ \t]+start|/etc/init\.d/sshd?[ \t]+start"
              r"|(?:/usr/sbin/)?sshd(?:[ \t]+-[a-ce-zA-CE-Z]\S*)*)")
# …first in a shell-form command that goes on to start the real service.
SSHD_CHAINED_RE = re.compile(rf"{SSHD_START}[ \t]*(?:&&|;)[ \t]*(?=\S)")


def check_ssh_server(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks for an SSH server in the image (`openssh-server`, `dropbear`, `sshd`).

    Why is this bad?
    An SSH daemon is another remote entry point with its own keys and credentials to manage; use
    `docker exec` to get into a container (CIS Docker Benchmark 5.6). And it needs root: in a
    container that runs as a non-root user it cannot start at all.

    Example:
    ```dockerfile
    RUN apt-get install -y openssh-server
    CMD service ssh start && node server.js
    ```

    Use instead:
    ```dockerfile
    # no SSH server; `docker exec -it CONTAINER sh` when a shell is needed
    CMD node server.js
    ```

    Fix safety:
    Needs review. Only a shell-form `CMD`/`ENTRYPOINT` that starts the daemon in the background first
    and then the real service (`service ssh start && …`, `/usr/sbin/sshd; …`) is fixed: the daemon's
    start is removed, so the service starts as the non-root user; whoever logged in over SSH must
    use `docker exec`. The installed packages, keys and `sshd_config` edits are reported for removal
    by hand. An image whose main process is sshd (or a process manager that starts it) is reported:
    it needs a redesign, not a rewrite.
    """
    for instruction in parsed.instructions:
        if instruction.keyword not in ("RUN", "CMD", "ENTRYPOINT"):
            continue
        text = " ".join(instruction.value)
        if ("ssh" in text or "dropbear" in text) and SSH_PACKAGE_RE.search(text):  # every pattern names one
            detail = ""
            if instruction.keyword != "RUN":
                detail = (f"{instruction.keyword} starts sshd, which cannot run as a non-root user"
                          if _sshd_chained(parsed, instruction) is not None else
                          f"{instruction.keyword} runs sshd as the service: the image needs a redesign (docker exec)")
            yield SSH_SERVER.violation(instruction.start_line, detail, instruction=instruction.index)


def _sshd_chained(parsed: ParsedDockerfile, instruction: Instruction) -> re.Match[str] | None:
    """The leading `start sshd &&` of a one-line shell-form CMD/ENTRYPOINT."""
    if instruction.json or instruction.keyword not in ("CMD", "ENTRYPOINT"):
        return None
    start = command_start(parsed, instruction)
    if start is None:
        return None
    match = SSHD_CHAINED_RE.match(parsed.text, start)
    return match if match is not None and "\n" not in parsed.text[start:match.end()] else None


def fix_ssh_server(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    instruction = parsed.instructions[violation.instruction]
    match = _sshd_chained(parsed, instruction)
    if match is None:
        return None
    return Fix((Edit(match.start(), match.end(), ""),), FixSafety.NEEDS_REVIEW,
               f"{instruction.keyword} no longer starts sshd")


def check_expose_22(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks for `EXPOSE 22`.

    Why is this bad?
    Port 22 means an SSH server runs in the container (CIS Docker Benchmark 5.6).

    Example:
    ```dockerfile
    EXPOSE 22 8080
    ```

    Use instead:
    ```dockerfile
    EXPOSE 8080
    ```

    Fix safety:
    Needs review: the port is removed from `EXPOSE`; whatever listens there keeps running.
    """
    for instruction in parsed.instructions:
        if instruction.keyword == "EXPOSE" and any(p in ("22", "22/tcp") for p in " ".join(instruction.value).split()):
            yield EXPOSE_22.violation(instruction.start_line, instruction=instruction.index)


def fix_expose_22(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    instruction = parsed.instructions[violation.instruction]
    kept = [p for p in " ".join(instruction.value).split() if p not in ("22", "22/tcp")]
    keyword = parsed.source(instruction).split(None, 1)[0]
    edit = replace_instruction(parsed, instruction, [f"{keyword} {' '.join(kept)}"] if kept else [])
    return Fix((edit,), FixSafety.NEEDS_REVIEW, "removed port 22")


def check_maintainer(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks for the deprecated `MAINTAINER` instruction.

    Why is this bad?
    It is deprecated; tools read the author from the OCI label `org.opencontainers.image.authors`.

    Example:
    ```dockerfile
    MAINTAINER Jane Doe <jane@example.com>
    ```

    Use instead:
    ```dockerfile
    LABEL org.opencontainers.image.authors="Jane Doe <jane@example.com>"
    ```

    Fix safety:
    Safe: the same text becomes the label, quoted so that nothing in it is expanded.
    """
    for instruction in parsed.instructions:
        if instruction.keyword == "MAINTAINER":
            yield MAINTAINER.violation(instruction.start_line, instruction=instruction.index)


def fix_maintainer(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    instruction = parsed.instructions[violation.instruction]
    author = " ".join(instruction.value).strip()
    if not author or "\n" in author:
        return None
    escape = parsed.escape
    quoted = "".join(escape + c if c in ('"', "$", escape) else c for c in author)
    line = f'LABEL org.opencontainers.image.authors="{quoted}"'
    return Fix((replace_instruction(parsed, instruction, [line]),), FixSafety.SAFE, "MAINTAINER -> LABEL")


def check_relative_workdir(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks that `WORKDIR` paths are absolute.

    Why is this bad?
    A relative `WORKDIR` depends on the base image's working directory, which can change with the
    base image and makes the build hard to read.

    Example:
    ```dockerfile
    WORKDIR app
    ```

    Use instead:
    ```dockerfile
    WORKDIR /app
    ```

    Fix safety:
    Needs review: the path is resolved against the previous `WORKDIR` of the stage, or `/` when there
    is none (the base image may set another one).
    """
    for instruction in parsed.instructions:
        if instruction.keyword == "WORKDIR" and instruction.value:
            path = workdir_path(instruction)
            if not path.startswith(("/", "$")) and not re.match(r"^[A-Za-z]:[\\/]", path):
                yield RELATIVE_WORKDIR.violation(instruction.start_line, path, instruction=instruction.index)


def fix_relative_workdir(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    instruction = parsed.instructions[violation.instruction]
    path = workdir_path(instruction)
    if instruction.stage < 0 or "$" in path or not re.fullmatch(r"[\w./-]+", path):
        return None
    current = _workdirs_before(parsed, parsed.stages[instruction.stage]).get(instruction.index)
    if current is None:
        return None
    absolute = posixpath.normpath(posixpath.join(current, path))
    keyword = parsed.source(instruction).split(None, 1)[0]
    return Fix((replace_instruction(parsed, instruction, [f"{keyword} {absolute}"]),), FixSafety.NEEDS_REVIEW,
               f"WORKDIR {absolute}")


def _workdirs_before(parsed: ParsedDockerfile, stage: Stage) -> dict[int, str | None]:
    """For each WORKDIR of the stage, the directory the stage's earlier WORKDIRs lead to ("/" with
    none; None after one with a variable). Found in one pass, for all of them."""
    def walk() -> dict[int, str | None]:
        current: str | None = "/"
        found: dict[int, str | None] = {}
        for workdir in parsed.stage_instructions(stage):
            if workdir.keyword != "WORKDIR":
                continue
            found[workdir.index] = current
            if workdir.value and current is not None:
                current = None if "$" in workdir_path(workdir) else posixpath.join(current, workdir_path(workdir))
        return found

    return parsed.remember(("workdirs", stage.index), walk)


EXEC_FORM = Rule("HC060", "shell-form-command", Severity.WARNING, "CMD/ENTRYPOINT in shell form", None, "DL3025",
                 check_exec_form, fix_exec_form, FixSafety.SAFE)
HEALTHCHECK = Rule("HC061", "missing-healthcheck", Severity.INFO, "no HEALTHCHECK for an exposed service", "4.6", None,
                   check_healthcheck, fix_healthcheck, FixSafety.NEEDS_REVIEW)
SSH_SERVER = Rule("HC062", "ssh-server", Severity.ERROR, "SSH server in the image", "5.6", None, check_ssh_server,
                  fix_ssh_server, FixSafety.NEEDS_REVIEW)
EXPOSE_22 = Rule("HC063", "expose-ssh-port", Severity.WARNING, "port 22 exposed", "5.6", None, check_expose_22,
                 fix_expose_22, FixSafety.NEEDS_REVIEW)
MAINTAINER = Rule("HC064", "maintainer-deprecated", Severity.STYLE, "MAINTAINER is deprecated", None, "DL4000",
                  check_maintainer, fix_maintainer, FixSafety.SAFE)
RELATIVE_WORKDIR = Rule("HC065", "relative-workdir", Severity.WARNING, "WORKDIR is relative", None, "DL3000",
                        check_relative_workdir, fix_relative_workdir, FixSafety.NEEDS_REVIEW)
RULES = (EXEC_FORM, HEALTHCHECK, SSH_SERVER, EXPOSE_22, MAINTAINER, RELATIVE_WORKDIR)
