"""Whole-pipeline properties of `harden` on every Dockerfile of the rule cases and on the round-trip
samples below: the output parses, a second run changes nothing, every original RUN command still runs
in order, and bytes outside the touched instructions survive exactly (CRLF, backtick escapes,
heredocs, comments, parser directives)."""

from __future__ import annotations

import re

import pytest
from harden_support import all_inputs, harden_text

from generator.audit.dockerfile import ParsedDockerfile, parse

ROUND_TRIP = {
    "crlf-backtick-escape": (
        "# escape=`\r\n"
        "# a comment that stays\r\n"
        "ARG VERSION=12\r\n"
        "FROM --platform=$BUILDPLATFORM debian:${VERSION}-slim AS build\r\n"
        "RUN echo one `\r\n"
        "    two\r\n"
        "\r\n"
        "FROM build\r\n"
        "COPY --from=build /etc/os-release /tmp/\r\n"
        "CMD [\"/bin/true\"]\r\n"
    ),
    "heredoc-and-continuations": (
        "# syntax=docker/dockerfile:1\n"
        "FROM python:3.13-slim-trixie\n"
        "RUN <<EOF\n"
        "set -e\n"
        "pip install flask\n"
        "EOF\n"
        "RUN set -eux; \\\n"
        "    # a comment inside a continuation\n"
        "    useradd --uid 10001 app\n"
        "\n"
        "\n"
        "COPY <<EOF /etc/app.conf\n"
        "key = value\n"
        "EOF\n"
        "USER 10001\n"
        "CMD [\"python\", \"-m\", \"app\"]\n"
    ),
    "legacy": (
        "FROM ubuntu:latest\n"
        "MAINTAINER ops@example.com\n"
        "ADD . /srv/app\n"
        "RUN apt-get update\n"
        "RUN apt-get install -y python3 python3-pip openssh-server\n"
        "RUN pip3 install -r /srv/app/requirements.txt\n"
        "ENV API_TOKEN=abc123\n"
        "RUN /srv/app/setup.sh --token $API_TOKEN\n"
        "EXPOSE 22 5000\n"
        "CMD python3 /srv/app/main.py"
    ),
}


def run_commands(parsed: ParsedDockerfile, workdir_as_cd: bool = False) -> list[str]:
    """RUN commands in order; with `workdir_as_cd`, `WORKDIR DIR` counts as `cd DIR &&` (the HC054 fix)."""
    return [" ".join(i.value) if i.keyword == "RUN" else f"cd {i.value[0]} &&" for i in parsed.instructions
            if i.keyword == "RUN" or (workdir_as_cd and i.keyword == "WORKDIR" and i.value)]


# A `sudo` the shell runs as a command (at the start, after an operator or variable assignments);
# a `sudo` package name in an install list is an argument and must survive.
SUDO_PREFIX_RE = re.compile(r"((?:^|&&|\|\||[;|(])\s*(?:[A-Za-z_]\w*=\S*\s+)*)sudo(?:\s+(?:-E|--preserve-env))*(?!\S)")


def assert_runs_kept(before: str, after: str) -> None:
    """The words of the original RUN commands are a subsequence of the output's RUN words: fixes only add
    flags, prefixes and cleanup (or merge a RUN into the one that follows it). The rewrites that remove
    or change a word are accounted for: `sudo` prefixes go (with a `-E`/`--preserve-env` after them: as root,
    the command keeps its environment either way; a `sudo` argument stays), `chmod 777` becomes `chmod 755`, a
    leading `cd DIR &&` becomes `WORKDIR DIR`, `npm install` becomes `npm ci` (the lockfile's tree); double quotes are
    ignored (the HC030 fix quotes a secret's uses)."""
    old = [w.replace('"', "") for c in run_commands(parse(before))
           for w in re.sub(SUDO_PREFIX_RE, r"\1 ", c).split()]
    new = iter(w.replace('"', "") for c in run_commands(parse(after), workdir_as_cd=True) for w in c.split())
    for word in old:
        accepted = {word, "755"} if word in ("777", "0777") else {word, "ci"} if word in ("install", "i") else {word}
        assert any(candidate in accepted for candidate in new), f"RUN word {word!r} lost or reordered"


CASES = sorted(all_inputs()) + list(ROUND_TRIP.values())


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("text", CASES, ids=lambda t: t.splitlines()[0][:40] if t else "empty")
def test_harden_properties(text: str, unsafe: bool) -> None:
    first = harden_text(text, unsafe=unsafe)
    parse(first.text)
    second = harden_text(first.text, unsafe=unsafe)
    assert second.text == first.text, "harden is not idempotent"
    assert not second.applied
    assert_runs_kept(text, first.text)


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_untouched_bytes_survive(name: str) -> None:
    text = ROUND_TRIP[name]
    result = harden_text(text, unsafe=True)
    before, after = parse(text), parse(result.text)
    original_lines = text.splitlines(keepends=True)
    new_lines = result.text.splitlines(keepends=True)
    # Every line of an instruction that no fix touched appears, byte for byte, in the output.
    for instruction in before.instructions:
        span = "".join(original_lines[instruction.start_line - 1:instruction.end_line])
        if instruction.keyword in ("FROM", "RUN", "CMD", "ENV", "ADD", "MAINTAINER", "EXPOSE"):
            continue  # the kinds our fixes rewrite; checked by the rule cases
        assert span in result.text, f"{name}: {span!r} changed"
    comments = [line for line in original_lines if line.lstrip().startswith("#")]
    assert all(line in new_lines for line in comments)
    if "\r\n" in text:
        assert result.text.count("\n") == result.text.count("\r\n"), "a fix wrote LF into a CRLF file"
    assert after.escape == before.escape and after.directives == before.directives


def test_crlf_backtick_file_is_untouched_where_nothing_applies() -> None:
    text = ROUND_TRIP["crlf-backtick-escape"]
    result = harden_text(text, unsafe=False)
    # Only additions: every original line is still there, in order.
    lines = iter(result.text.splitlines(keepends=True))
    for line in text.splitlines(keepends=True):
        assert any(line == candidate for candidate in lines), f"lost {line!r}"


def test_legacy_sample_is_hardened() -> None:
    result = harden_text(ROUND_TRIP["legacy"], unsafe=True)
    out = parse(result.text)
    assert out.stages[0].base == "ubuntu:latest"  # not in the catalog: reported, never guessed
    users = [i.value[0] for i in out.instructions if i.keyword == "USER"]
    assert users == ["10001:10001"]
    assert "API_TOKEN=abc123" not in result.text
    assert "--mount=type=secret,id=api_token" in result.text
    assert "EXPOSE 5000" in result.text
    assert 'CMD ["python3", "/srv/app/main.py"]' in result.text
    remaining = {v.rule_id for v in result.remaining}
    assert {"HC010", "HC062"} <= remaining  # reported, not silently kept


def test_sudo_prefix_goes_and_the_sudo_package_stays() -> None:
    """HC050 removes `sudo` where it runs a command as root, never where it names a package: the
    install keeps its package list, and the installed sudo stays reported."""
    text = "FROM debian:12-slim\nRUN sudo apt-get update && sudo apt-get install -y sudo curl\n"
    result = harden_text(text, unsafe=True)
    assert "apt-get update && apt-get install" in result.text
    assert re.search(r"install\b[^&]* sudo curl", result.text), result.text
    assert any(v.rule_id == "HC050" and "package" in v.message for v in result.remaining)
    assert_runs_kept(text, result.text)
