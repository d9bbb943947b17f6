"""Fuzzing parse → check → harden with hypothesis, through the CLI contract (in-process API).

Generated Dockerfiles are composed from realistic instruction fragments (the kinds of mistakes
`harden` fixes, plus every instruction of the legacy corpus) and dressed in random formatting:
whitespace, continuations with comments inside, lower-case keywords, CRLF, heredocs, escape
directives, unicode. A second strategy mutates them into junk (random insertions, deletions, broken
heredocs and JSON, control characters, invalid UTF-8).

The property, for every input: no exception escapes `main()`, and either
- `harden` exits 0, its output parses with BuildKit's parser and hardening the output again gives
  the same bytes; or
- it exits 2 with exactly one stderr line starting `hardcase: error:`.
`check --format json` likewise exits 0/1 with a JSON report or 2 with one error line. Realistic
inputs that BuildKit parses must be hardened (exit 0); inputs BuildKit rejects must be refused.

`check` also runs as a real process on some junk (its console entry point has its own fast path).
Huge inputs (many instructions, long commands, instructions around the line limit, long or open
heredocs) and parser-directive edge cases have their own strategies; in the slow run every input
must also be done (check, harden, harden again) within HANG_SECONDS.

The default run does a few thousand examples in about a minute; `-m slow` runs 15,000.
"""

from __future__ import annotations

import functools
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from generator.audit.dockerfile import MAX_INSTRUCTION_LINES
from tests.corpus_support import ERROR_PREFIX, REPO, CliResult, corpus_dirs, parse, parse_error, run_cli

DEFAULT_REALISTIC = 1000
DEFAULT_JUNK = 1200
DEFAULT_PROCESS = 80
DEFAULT_HUGE = 6
DEFAULT_DIRECTIVES = 200
# The slow suite: 15,000 Dockerfiles in all, each within HANG_SECONDS.
SLOW_REALISTIC = 5000
SLOW_JUNK = 5000
SLOW_PROCESS = 500
SLOW_HUGE = 500
SLOW_DIRECTIVES = 4000
HANG_SECONDS = 5.0
SUPPRESS = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
            HealthCheck.filter_too_much]

# --- fragments -----------------------------------------------------------------------------------

BASES = [
    "debian:12-slim", "ubuntu:16.04", "ubuntu", "ubuntu:latest", "alpine:3.7", "alpine", "centos:7",
    "python:3.6-alpine", "node:latest", "golang:1.10", "ruby:2.4-alpine", "php:7.0-apache", "rust:1.40",
    "mcr.microsoft.com/dotnet/core/aspnet:3.1", "127.0.0.1:5000/library/python:3.11-slim-bookworm",
    "127.0.0.1:5000/library/node:24-bookworm-slim", "gcr.io/distroless/static-debian12:nonroot", "scratch",
    "$BASE", "${REGISTRY}/app:${TAG}", "python:3.11@sha256:" + "ab" * 32, "registry.example.com:5000/team/img:1.2",
]
STAGE_NAMES = ["build", "builder", "runtime", "deps", "App-Stage", "b0"]
RUN_COMMANDS = [
    "apt-get update",
    "apt-get install -y curl ca-certificates",
    "apt-get update && apt-get install -y build-essential python3-dev libpq-dev",
    "apt-get -y upgrade",
    "apk add --update git gcc musl-dev",
    "apk update && apk add curl",
    "yum -y install epel-release && yum -y install python-pip",
    "pip install -r requirements.txt",
    "pip install flask gunicorn==20.1.0",
    "pip3 install --upgrade pip && pip3 install -e .",
    "npm install",
    "npm install -g pm2 @angular/cli@1.7.4",
    "yarn install && yarn build",
    "gem install bundler && bundle install --without development test",
    "composer install --no-dev",
    "go get -d -v ./... && go build -o /go/bin/app .",
    "cargo build --release",
    "dotnet restore && dotnet publish -c Release -o out",
    "curl -sL https://deb.nodesource.com/setup_8.x | bash -",
    "curl -sSL https://get.rvm.io | sudo bash -s stable",
    "wget -qO- https://glide.sh/get | sh",
    "sudo chmod 777 /app",
    "chmod -R 777 /var/www/html/storage /var/log",
    "cd /app && make && make install",
    'echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > .npmrc && npm install && rm -f .npmrc',
    "git config --global url.\"https://${GITHUB_TOKEN}@github.com/\".insteadOf \"https://github.com/\"",
    "useradd -m -s /bin/bash deploy && echo 'deploy ALL=(ALL) NOPASSWD:ALL' >> /etc/sudoers",
    "mkdir /var/run/sshd && echo 'root:screencast' | chpasswd",
    "echo 'héllo wörld ☃ 中文' > /etc/motd",
    "set -e; for f in a b c; do echo $f; done",
    "if [ -f /x ]; then rm /x; fi",
    "addgroup -S app && adduser -S app -G app",
]
ENVS = [
    "ENV PATH=/usr/local/bin:$PATH",
    "ENV AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "ENV AWS_ACCESS_KEY_ID AKIAIOSFODNN7EXAMPLE",
    "ENV DB_PASSWORD secret123",
    'ENV A=1 B="two words" API_TOKEN=abc123def456',
    "ENV NODE_ENV production",
    "ENV DATABASE_URL=postgres://user:Pa55w0rd@db:5432/app",
    "ENV GREETING=\"grüße ☃\"",
    "ARG NPM_TOKEN=npm_AbCdEf0123456789aBcDeF0123456789abCD",
    "ARG GITHUB_TOKEN",
    "ARG VERSION=1.0",
    "ARG UID=1000",
]
FILES = [
    "ADD . /app", "ADD https://example.com/release/app-1.2.tar.gz /tmp/", "ADD --chown=app:app src /src",
    "ADD archive.tar.gz /opt/", "COPY . .", "COPY --from=build /out /app", "COPY --from=0 /bin/app /usr/local/bin/app",
    'COPY ["package.json", "package-lock.json", "./"]', "COPY <<EOF /etc/app.conf\nkey=value\npassword=hunter2\nEOF",
]
OTHERS = [
    "WORKDIR app", "WORKDIR /srv/app", "WORKDIR $HOME/app", "USER root", "USER app", "USER 1000:1000",
    "USER ${UID}", "EXPOSE 22", "EXPOSE 80 443", "EXPOSE 8080/tcp", "EXPOSE 3000-3005", "EXPOSE $PORT",
    "MAINTAINER Jane Doe <jane@example.com>", 'LABEL version="1.0" maintainer="ops@example.com"', "VOLUME /data",
    'VOLUME ["/var/lib/mysql"]', 'SHELL ["/bin/bash", "-o", "pipefail", "-c"]', "STOPSIGNAL SIGTERM",
    "ONBUILD RUN npm install", "HEALTHCHECK NONE", "HEALTHCHECK --interval=5s CMD curl -f http://localhost/ || exit 1",
]
FINALS = [
    "CMD python app.py", 'CMD ["node", "server.js"]', "CMD service ssh start && nginx -g 'daemon off;'",
    'CMD ["--help"]', "CMD bundle exec rails s -b 0.0.0.0", "ENTRYPOINT /docker-entrypoint.sh",
    'ENTRYPOINT ["dotnet", "App.dll"]', 'ENTRYPOINT ["java", "-jar", "/app.jar"]\nCMD ["--port", "8080"]',
]
COMMENTS = ["# a comment", "# TODO: fix this ☃", "#", "# hardcase ignore=HC001", "# hadolint ignore=DL3008",
            "#   indented note   "]
UNICODE = ["é", "ü", "中文", "☃", "🐳", "\u00a0", "\u200b", "Ω"]
JUNK_LINES = [
    "RUN <<EOF", "FROM", 'CMD ["a",', "\\", "FOO bar", "ONBUILD ONBUILD RUN x", "ENV", "ARG =", "USER", "EXPOSE abc",
    "HEALTHCHECK CMD", "COPY --from= . .", "\x00", "\ufeff", "RUN --mount=type=secret", "# escape=`", "# syntax=",
    "ADD", "RUN [\"unterminated", "FROM a AS", "WORKDIR", "LABEL =", "RUN \\\n\\\n", "COPY <<A <<B /x\nA\n",
    "RUN <<-EOT\n\tx\n\tEOT", "\r", "\t\t", "FROM --platform= x", "USER :", "ENV =x", "EXPOSE 99999999",
]


def _corpus_fragments() -> list[str]:
    """Every instruction of the corpus files (their original text, continuations and all), except
    the Windows one: its backtick continuations only mean something under its escape directive."""
    fragments = []
    for directory in corpus_dirs():
        text = (directory / "Dockerfile").read_text(encoding="utf-8").replace("\r\n", "\n")
        if "# escape=`" in text:
            continue
        lines = text.split("\n")
        for cmd in parse(text):
            if cmd.cmd.upper() != "FROM":
                fragments.append("\n".join(lines[cmd.start_line - 1 : cmd.end_line]))
    return fragments


CORPUS_FRAGMENTS = _corpus_fragments()

# --- strategies ----------------------------------------------------------------------------------


@st.composite
def run_instruction(draw: st.DrawFn) -> tuple[str, list[str]]:
    """("shell"|"exec"|"heredoc"|"mount", commands): laid out later, with the file's escape character."""
    commands = draw(st.lists(st.sampled_from(RUN_COMMANDS), min_size=1, max_size=3))
    return draw(st.sampled_from(["shell", "shell", "shell", "exec", "heredoc", "mount"])), commands


def _lay_out_run(form: str, commands: list[str], escape: str, rnd: random.Random) -> str:
    if form == "exec":
        return "RUN " + json.dumps(["/bin/sh", "-c", " && ".join(commands)], ensure_ascii=rnd.random() < 0.5)
    if form == "heredoc":
        return "RUN <<EOF\n" + "\n".join(commands) + "\nEOF"
    words = " && ".join(commands).split(" ")
    pieces = [words[0]]
    for word in words[1:]:
        if rnd.random() < 0.15:  # a continuation, sometimes with a comment or a blank line inside
            inner = rnd.choice(["", "", "# inside a continuation", "   "])
            pieces.append(f" {escape}\n" + (inner + "\n" if inner else "") + rnd.choice(["    ", "\t", ""]))
        else:
            pieces.append(" ")
        pieces.append(word)
    return ("RUN --mount=type=cache,target=/root/.cache " if form == "mount" else "RUN ") + "".join(pieces)


def _spell(keyword_line: str, style: str) -> str:
    keyword, sep, rest = keyword_line.partition(" ")
    spelled = {"upper": keyword, "lower": keyword.lower(), "title": keyword.title()}[style]
    return spelled + sep + rest


FRAGMENT = st.one_of(run_instruction(), st.sampled_from(ENVS + FILES + OTHERS + COMMENTS + CORPUS_FRAGMENTS))


@st.composite
def realistic_dockerfile(draw: st.DrawFn) -> str:
    """What instructions come in which stage is drawn by hypothesis (and shrinks); the layout
    (escape character, indentation, blank lines, continuations, keyword case, CRLF) comes from a
    random.Random seeded by one drawn integer: reproducible, and cheap to generate."""
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))
    escape = rnd.choice(["\\", "\\", "\\", "`"])
    # Parser directives first, with nothing (not even a blank line) before them.
    lines: list[str] = []
    if rnd.random() < 0.2:
        lines.append("# syntax=docker/dockerfile:1")
    if escape == "`" or rnd.random() < 0.15:
        lines.append(f"# escape={escape}")
    if rnd.random() < 0.5:
        lines.append(rnd.choice(["ARG BASE=debian:12-slim", "ARG TAG=3.11", "ARG REGISTRY=docker.io"]))
    names: list[str] = []
    style = rnd.choice(["upper"] * 6 + ["lower", "title"])
    for stage in draw(st.lists(st.lists(FRAGMENT, max_size=8), min_size=1, max_size=3)):
        base = draw(st.sampled_from(BASES + names))
        name = rnd.choice([None, None, *STAGE_NAMES])
        if name:
            names.append(name.lower())
        platform = "--platform=$BUILDPLATFORM " if rnd.random() < 0.15 else ""
        items = [f"FROM {platform}{base}" + (f" {rnd.choice(['AS', 'as'])} {name}" if name else "")]
        for fragment in stage:
            if isinstance(fragment, tuple):
                items.append(_lay_out_run(*fragment, escape, rnd))
            else:
                items.append(fragment.replace("\\\n", f"{escape}\n"))
        if rnd.random() < 0.6:
            items.append(draw(st.sampled_from(FINALS)))
        for item in items:
            if item.startswith("#"):
                item += rnd.choice(["", "", "", " ☃ 🐳"])
            else:
                # (no trailing blanks after a heredoc: its terminator line must be exact)
                trailing = "" if "<<" in item else rnd.choice(["", "", " "])
                item = rnd.choice(["", "", "", "  ", "\t"]) + _spell(item, style) + trailing
            lines.append(item)
            if rnd.random() < 0.3:
                lines.append("")
    text = "\n".join(lines) + rnd.choice(["\n", "\n", "", "\n\n"])
    return text.replace("\n", "\r\n") if rnd.random() < 0.12 else text


@st.composite
def junk_dockerfile(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["mutated"] * 6 + ["text", "binary"]))
    if kind == "text":
        return draw(st.text(max_size=400)).encode("utf-8")
    if kind == "binary":
        return draw(st.binary(max_size=400))
    text = draw(realistic_dockerfile())
    for _ in range(draw(st.integers(1, 5))):
        position = draw(st.integers(0, len(text)))
        operation = draw(st.sampled_from(["insert", "insert-line", "delete", "duplicate", "truncate"]))
        if operation == "insert":
            text = text[:position] + draw(st.text(min_size=1, max_size=20)) + text[position:]
        elif operation == "insert-line":
            start = text.rfind("\n", 0, position) + 1
            text = text[:start] + draw(st.sampled_from(JUNK_LINES + UNICODE)) + "\n" + text[start:]
        elif operation == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 40)) :]
        elif operation == "duplicate":
            text = text[:position] + text[max(0, position - 30) : position] + text[position:]
        else:
            text = text[:position]
    return text.encode("utf-8", "surrogatepass")


# Huge and long inputs: many instructions, one long command (words that drove rules quadratic), an
# instruction around the line limit, long heredocs (some never closed), lines around BuildKit's 64 KiB.
LONG_TOKENS = ["curl ", "wget ", "sudo ", "apt-get ", "apt-get install -y x ", "npm install ", "useradd ", "A=1 ",
               "a", "ghp_", "| sh ", "<< ", "${X} ", "$(", '"', "\\ ", "&& ", "-q "]


@st.composite
def huge_dockerfile(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["repeated", "long-command", "continuations", "heredoc", "long-line", "stages"]))
    if kind == "repeated":
        body = draw(realistic_dockerfile()).replace("\r\n", "\n")
        return body * draw(st.integers(10, 60))
    if kind == "long-command":
        token = draw(st.sampled_from(LONG_TOKENS))
        line = token * (draw(st.integers(1000, 12000)) // len(token))
        return "FROM debian:12\nRUN " + " \\\n".join([line] * draw(st.integers(1, 8))) + "\nUSER 1000\n"
    lines = draw(st.sampled_from([3, 500, MAX_INSTRUCTION_LINES - 1, MAX_INSTRUCTION_LINES,
                                  MAX_INSTRUCTION_LINES + 1, 5000]))
    if kind == "continuations":
        return "FROM debian:12\nRUN echo start" + " \\\n  && echo more" * (lines - 1) + "\nUSER 1000\n"
    if kind == "heredoc":
        closed = draw(st.booleans())
        return "FROM debian:12\nRUN <<EOF\n" + "echo line\n" * lines + ("EOF\nUSER 1000\n" if closed else "")
    if kind == "long-line":
        length = draw(st.integers(65500, 65540))  # BuildKit refuses a line over 65,535 bytes
        return "FROM debian:12\nRUN echo " + ("x " * length)[:length] + "\n"
    count = draw(st.integers(50, 400))
    return "FROM debian:12 AS s0\n" + "".join(f"FROM s{i - 1} AS s{i}\nRUN apt-get install -y p{i}\n"
                                                for i in range(1, count))


DIRECTIVE_LINES = [
    "# syntax=docker/dockerfile:1", "# escape=`", "# escape=\\", "# check=skip=JSONArgsRecommended;error=true",
    "#escape=`", "  # ESCAPE = `  ", "# x=1", "# foo-bar=1", "# hello", "", "#", "# escape=x", "# check=error=true",
    "\t# syntax = x", "#!/bin/sh", "#\vescape=`", "\u00a0# escape=`",
]


@st.composite
def directive_dockerfile(draw: st.DrawFn) -> str:
    """Directive edge cases (blank lines, whitespace, case, duplicates, unknown keys, `check`) in front
    of a realistic file, whose continuations may or may not use the escape character they set."""
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    prefix = draw(st.lists(st.sampled_from(DIRECTIVE_LINES), max_size=5))
    text = ("\ufeff" if draw(st.booleans()) else "") + "".join(line + newline for line in prefix)
    return text + draw(realistic_dockerfile()).replace("\n", newline)


def buildkit_view(text: str) -> str | None:
    """The text as the package's (older) BuildKit must see it to read the directives as current
    BuildKit does (`check` known, Unicode space trimmed): what hardcase hands it. None: refused."""
    from generator.audit.dockerfile import parse_directives
    from generator.core.errors import UsageError

    try:
        directives, count, end = parse_directives(text)
    except UsageError:
        return None
    if not count:
        return text
    head = "".join(("# escape=`" if i == 0 and directives.get("escape") == "`" else "#") + "\n" for i in range(count))
    return (head if text.endswith("\n", 0, end) else head[:-1]) + text[end:]


KNOWN_INSTRUCTIONS = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER",
    "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
})


def well_formed(text: str) -> bool:
    """What Docker would accept past its parser: known instructions only, each with arguments, and
    only ARG before the first FROM (BuildKit's parser alone accepts `update` as an instruction)."""
    try:
        commands = parse(text)
    except ValueError:  # dockerfile.GoParseError, or UnicodeDecodeError from the binding
        return False
    seen_from = False
    for cmd in commands:
        keyword = cmd.cmd.upper()
        if keyword not in KNOWN_INSTRUCTIONS or not (cmd.value or cmd.heredocs):
            return False
        if keyword == "FROM":
            seen_from = True
        elif keyword != "ARG" and not seen_from:
            return False
    return seen_from


# --- the contract --------------------------------------------------------------------------------


def assert_one_line_error(result: CliResult, what: str) -> None:
    lines = result.stderr.splitlines()
    assert result.exit_code == 2, f"{what}: exit {result.exit_code}, stderr {result.stderr[-500:]!r}"
    assert len(lines) == 1 and lines[0].startswith(ERROR_PREFIX), f"{what}: stderr {result.stderr[-500:]!r}"
    assert lines[0][len(ERROR_PREFIX) :].strip(), f"{what}: empty error message"
    assert "Traceback" not in result.stderr


@dataclass(frozen=True)
class Outcome:
    hardened: bool
    input_parses: bool


def judged(text: str) -> str | None:
    """BuildKit's verdict on TEXT (None: it parses), its directives read as current BuildKit reads them."""
    view = buildkit_view(text)
    return parse_error(view) if view is not None else "parser directive error"


def check_contract(tmp: Path, data: bytes, deadline: float | None = None) -> Outcome:
    """The contract for one input; with DEADLINE, check + harden + harden again must also take no more
    than that many seconds of CPU (no hang; CPU time, so that other work on the machine cannot fail it)."""
    started = time.process_time()
    try:
        return _contract(tmp, data)
    finally:
        elapsed = time.process_time() - started
        assert deadline is None or elapsed <= deadline, f"took {elapsed:.1f} s (a hang?): {data[:200]!r}"


def _contract(tmp: Path, data: bytes) -> Outcome:
    source, first = tmp / "Dockerfile", tmp / "out" / "Dockerfile"
    first.parent.mkdir(exist_ok=True)
    first.unlink(missing_ok=True)
    source.write_bytes(data)
    try:
        input_parses = judged(data.decode("utf-8")) is None
    except UnicodeDecodeError:
        input_parses = False

    checked = run_cli("check", source, "--format", "json")
    if checked.exit_code in (0, 1):
        report = json.loads(checked.stdout)
        assert [f["path"] for f in report["files"]] == [str(source)], report
    else:
        assert_one_line_error(checked, "check")

    hardened = run_cli("harden", source, "-o", first, "--unsafe-fixes")
    if hardened.exit_code != 0:
        assert_one_line_error(hardened, "harden")
        assert not first.exists(), "harden failed but wrote its output file"
        event("harden: clear error")
        return Outcome(False, input_parses)
    assert input_parses, f"harden accepted input BuildKit rejects ({data[:200]!r})"
    output = first.read_bytes().decode("utf-8")
    assert judged(output) is None, f"output does not parse: {judged(output)}\n{output}"
    # Again, through the stdout form of the CLI (no OUT file to write and fsync).
    again = run_cli("harden", first, "--unsafe-fixes")
    assert again.exit_code == 0, f"hardening the output failed: {again.stderr}"
    assert again.stdout == output, "not idempotent: harden(harden(x)) != harden(x)"
    event("harden: output parses and is idempotent")
    return Outcome(True, input_parses)


def check_process_contract(tmp: Path, data: bytes, deadline: float | None = None) -> None:
    """`hardcase check FILE --format json` as a real process (the console entry point, whose fast
    start path parses the command line without argparse): JSON and exit 0/1, or exit 2 and one
    `hardcase: error:` line; never a traceback."""
    source = tmp / "Dockerfile"
    source.write_bytes(data)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, "-m", "generator", "check", str(source), "--format", "json"],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    assert deadline is None or cpu <= deadline, f"check took {cpu:.1f} s of CPU (a hang?): {data[:200]!r}"
    result = CliResult(proc.returncode, proc.stdout, proc.stderr)
    if result.exit_code in (0, 1):
        assert result.stderr == "", result.stderr
        assert [f["path"] for f in json.loads(result.stdout)["files"]] == [str(source)]
        event("check process: report")
    else:
        assert_one_line_error(result, "check (process)")
        event("check process: clear error")


def realistic_property(tmp: Path, text: str, deadline: float | None = None) -> None:
    outcome = check_contract(tmp, text.encode("utf-8"), deadline)
    valid = well_formed(text)
    event(f"well-formed input: {valid}")
    if valid:
        assert outcome.hardened, f"harden refused a well-formed Dockerfile:\n{text}"


# --- tests ---------------------------------------------------------------------------------------


@pytest.fixture(autouse=True, scope="module")
def _reuse_cli_parser() -> Iterator[None]:
    """`main()` builds its whole argparse parser on every call (~8 ms, mostly gettext look-ups),
    more than hardening a small file takes. Reusing one parser changes no behaviour (parsing
    arguments does not modify it) and lets the fuzzers run thousands of examples in under a minute.
    Without the private hook (renamed?) the tests still run, only slower."""
    from generator.cli import main as cli

    with pytest.MonkeyPatch.context() as patch:
        if hasattr(cli, "_build_parser"):
            patch.setattr(cli, "_build_parser", functools.cache(cli._build_parser))
        yield


@settings(max_examples=DEFAULT_REALISTIC, deadline=None, suppress_health_check=SUPPRESS)
@given(text=realistic_dockerfile())
def test_fuzz_realistic_dockerfiles(tmp_path: Path, text: str) -> None:
    realistic_property(tmp_path, text)


@settings(max_examples=DEFAULT_JUNK, deadline=None, suppress_health_check=SUPPRESS)
@given(data=junk_dockerfile())
def test_fuzz_junk(tmp_path: Path, data: bytes) -> None:
    check_contract(tmp_path, data)


@settings(max_examples=DEFAULT_PROCESS, deadline=None, suppress_health_check=SUPPRESS)
@given(data=junk_dockerfile())
def test_fuzz_check_as_a_process(tmp_path: Path, data: bytes) -> None:
    check_process_contract(tmp_path, data)


@pytest.mark.slow
@settings(max_examples=SLOW_PROCESS, deadline=None, suppress_health_check=SUPPRESS)
@given(data=junk_dockerfile())
def test_fuzz_check_as_a_process_long(tmp_path: Path, data: bytes) -> None:
    check_process_contract(tmp_path, data, HANG_SECONDS)


@pytest.mark.slow
@settings(max_examples=SLOW_REALISTIC, deadline=None, suppress_health_check=SUPPRESS)
@given(text=realistic_dockerfile())
def test_fuzz_realistic_dockerfiles_long(tmp_path: Path, text: str) -> None:
    realistic_property(tmp_path, text, HANG_SECONDS)


@pytest.mark.slow
@settings(max_examples=SLOW_JUNK, deadline=None, suppress_health_check=SUPPRESS)
@given(data=junk_dockerfile())
def test_fuzz_junk_long(tmp_path: Path, data: bytes) -> None:
    check_contract(tmp_path, data, HANG_SECONDS)


def directive_property(tmp: Path, text: str, deadline: float | None = None) -> None:
    """The contract, and: where the package's BuildKit reads the directives as current BuildKit does
    (no `check`, ASCII space only), hardcase finds exactly its instructions and its escape character."""
    check_contract(tmp, text.encode("utf-8"), deadline)
    head = text.split("\n", 6)[:6]
    if any("check" in line.lower() or "\v" in line or "\u00a0" in line for line in head):
        return
    from generator.audit.dockerfile import parse as hardcase_parse
    from generator.core.errors import UsageError

    try:
        ours = [(i.keyword, i.value, i.start_line, i.end_line) for i in hardcase_parse(text).instructions]
    except UsageError:
        event("directives: refused")
        return
    theirs = [(c.cmd.upper(), c.value, c.start_line, c.end_line) for c in parse(text)]
    assert ours == theirs, f"instructions differ from BuildKit's:\n{text[:500]}"
    event("directives: same instructions as BuildKit")


@settings(max_examples=DEFAULT_DIRECTIVES, deadline=None, suppress_health_check=SUPPRESS)
@given(text=directive_dockerfile())
def test_fuzz_directives(tmp_path: Path, text: str) -> None:
    directive_property(tmp_path, text)


@pytest.mark.slow
@settings(max_examples=SLOW_DIRECTIVES, deadline=None, suppress_health_check=SUPPRESS)
@given(text=directive_dockerfile())
def test_fuzz_directives_long(tmp_path: Path, text: str) -> None:
    directive_property(tmp_path, text, HANG_SECONDS)


@settings(max_examples=DEFAULT_HUGE, deadline=None, suppress_health_check=SUPPRESS)
@given(text=huge_dockerfile())
def test_fuzz_huge(tmp_path: Path, text: str) -> None:
    check_contract(tmp_path, text.encode("utf-8"))


@pytest.mark.slow
@settings(max_examples=SLOW_HUGE, deadline=None, suppress_health_check=SUPPRESS)
@given(text=huge_dockerfile())
def test_fuzz_huge_long(tmp_path: Path, text: str) -> None:
    check_contract(tmp_path, text.encode("utf-8"), HANG_SECONDS)


def test_generators_produce_what_they_claim() -> None:
    """The fuzzers' inputs are what the docstring says: most realistic ones are well-formed (so the
    "must be hardened" branch is exercised), most junk is not, and CRLF files occur."""
    realistic: list[bool] = []
    junk: list[bool] = []
    crlf: list[bool] = []

    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=SUPPRESS)
    @given(text=realistic_dockerfile(), data=junk_dockerfile())
    def collect(text: str, data: bytes) -> None:
        realistic.append(well_formed(text))
        crlf.append("\r\n" in text)
        try:
            junk.append(well_formed(data.decode("utf-8")))
        except UnicodeDecodeError:
            junk.append(False)

    collect()
    assert sum(realistic) >= 0.8 * len(realistic), f"only {sum(realistic)}/{len(realistic)} realistic inputs valid"
    assert sum(junk) <= 0.9 * len(junk), f"{sum(junk)}/{len(junk)} junk inputs are valid: the mutations do too little"
    assert any(crlf), "no CRLF input generated"
    assert len(CORPUS_FRAGMENTS) > 300, len(CORPUS_FRAGMENTS)
