"""Issue #11, class 12: `check` and `harden` take time linear in the Dockerfile, and refuse what is too big.

The scale tests count work rather than time it: the Python function calls (cProfile's count, the
same on every run) of the same kind of input at size N and 2N. Linear work doubles; a rescan of the
file (or stage) for each instruction quadruples. Work inside C code (regular expressions, string
copies) does not show in the count, so the tests of long commands time each input in a subprocess
with a generous bound, where the quadratic code took minutes.
"""

from __future__ import annotations

import contextlib
import cProfile
import os
import pstats
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from corpus_support import ERROR_PREFIX, REPO, run_cli

from generator.audit.dockerfile import MAX_DOCKERFILE_BYTES, MAX_INSTRUCTION_LINES, parse
from generator.audit.fix import harden
from generator.audit.lint import Config, check

RUN_COMMANDS = [
    "apt-get update && apt-get install -y curl ca-certificates",
    "pip install flask gunicorn==20.1.0",
    "npm install",
    "sudo chmod 777 /app",
    "wget -O- https://example.com/install.sh | sh",
    "cd /app && make && make install",
    "apk add --update git gcc musl-dev",
    "yum -y install epel-release && yum -y install python-pip",
    "useradd -m deploy",
    "echo done",
]


def calls(action: Callable[[], object]) -> int:
    """Python function calls made by ACTION (deterministic, unlike its time)."""
    for cached in ("generator.audit.rules.packages.segments", "generator.audit.rules.pins._unpinned_in"):
        module, name = cached.rsplit(".", 1)
        clear = getattr(getattr(sys.modules.get(module), name, None), "cache_clear", None)
        if clear is not None:
            clear()  # each size starts from empty caches
    profile = cProfile.Profile()
    profile.runcall(action)
    return int(pstats.Stats(profile).total_calls)  # type: ignore[attr-defined]


def runs(n: int) -> str:
    return "FROM debian:12-slim\n" + "".join(f"RUN {RUN_COMMANDS[i % len(RUN_COMMANDS)]} # {i}\n" for i in range(n)) \
        + "EXPOSE 8080\nCMD python app.py\n"


def chained_stages(n: int) -> str:
    """N stages, each built on the one before: facts about a stage follow the whole chain."""
    text = "FROM debian:12-slim AS s0\nUSER 1000\n"
    for i in range(1, n):
        text += f"FROM s{i - 1} AS s{i}\nRUN apt-get install -y p{i}\nWORKDIR app{i}\nCMD run {i}\n"
    return text


def secrets(n: int) -> str:
    """N secret ENV/ARG declarations, each used by a later RUN (HC030 moves each to a secret mount)."""
    text = "ARG GLOBAL_TOKEN=abc\nFROM debian:12-slim\nARG GLOBAL_TOKEN\n"
    for i in range(n):
        text += f"ENV DB_PASSWORD_{i}=secret{i}\nRUN echo $DB_PASSWORD_{i} $GLOBAL_TOKEN\n"
    return text


def many_findings(n: int) -> str:
    """Per-instruction fixes that each used to look at their whole stage: ADD, relative WORKDIR,
    shell-form CMD, npm install, cd, sudo, apt sources."""
    text = "FROM node:20-bookworm\nWORKDIR /srv\nCOPY package-lock.json ./\n"
    for i in range(n):
        text += (f"ADD file{i}.txt /opt/\nWORKDIR sub{i}\nRUN npm install && yarn install\nRUN cd /tmp && ls {i}\n"
                 f"RUN sudo apt-get install -y p{i}\nENTRYPOINT run {i}\n")
    return text


WORKLOADS: dict[str, tuple[Callable[[int], str], int]] = {
    "runs": (runs, 150), "chained-stages": (chained_stages, 60), "secrets": (secrets, 60),
    "many-findings": (many_findings, 40),
}


@pytest.mark.parametrize("name", sorted(WORKLOADS))
@pytest.mark.parametrize("mode", ["check", "harden"])
def test_doubling_the_input_about_doubles_the_work(name: str, mode: str) -> None:
    make, n = WORKLOADS[name]

    def work(size: int) -> int:
        text = make(size)
        if mode == "check":
            return calls(lambda: check(parse(text), Config()))
        return calls(lambda: harden(parse(text), Config(), unsafe=True))

    small, large = work(n), work(2 * n)
    assert large <= 2.5 * small, f"{mode} of {name}: {small} calls at {n}, {large} at {2 * n} ({large / small:.1f}x)"


def long_command(token: str, size: int = 300_000) -> str:
    """One RUN of SIZE characters: TOKEN repeated, in ten continuation lines (each under BuildKit's
    64 KiB line limit), with a secret-looking ENV value of one long word."""
    line = token * (size // 10 // len(token))
    body = " \\\n".join([line] * 10)
    return f"FROM debian:12\nRUN {body}\nENV SECRET_URL={'a' * 60000}\nUSER 1000\n"


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in the code under test after SECONDS (Python's regular expressions stop for signals)."""
    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_pipe_to_shell_check_is_fast_on_a_pathological_command() -> None:
    """300 KB of `curl ` without a pipe: the old one-pattern regex rescanned the rest of the command
    from every `curl` (16 s)."""
    from generator.audit.registry import rule_for

    parsed = parse(long_command("curl "))
    with time_limit(2):
        assert list(rule_for("HC052").check(parsed)) == []  # type: ignore[attr-defined]


# Tokens that each drove a different rule quadratic (or worse) on a long command: the pipe-to-shell
# and install-list patterns, wrappers dropped one word at a time, the rest of the command read again
# for every `wget`, `npm install` or `apt-get install`, a URL pattern tried from every letter, ...
LONG_TOKENS = ["curl ", "wget ", "sudo ", "apt-get ", "apt-get install -y x ", "npm install ", "useradd ", "A=1 ",
               "a", "ghp_"]


@pytest.mark.parametrize("token", LONG_TOKENS, ids=lambda t: t.strip() or "space")
def test_a_long_command_is_checked_and_hardened_in_bounded_time(tmp_path: Path, token: str) -> None:
    text = long_command(token)
    with time_limit(10):
        check(parse(text), Config())
    with time_limit(30):  # up to ten passes, each parsing 300 KB with BuildKit again
        result = harden(parse(text), Config(), unsafe=True)
    parse(result.text)


def run_process(*argv: str | os.PathLike[str], timeout: float = 60) -> tuple[int, str, float]:
    """`hardcase ARGV` as a real process: (exit code, stderr, seconds)."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "generator", *map(str, argv)], capture_output=True, text=True,
                          timeout=timeout, check=False, env={**os.environ, "PYTHONPATH": str(REPO)})
    return proc.returncode, proc.stderr, time.monotonic() - started


def assert_refused(code: int, stderr: str, *words: str) -> None:
    lines = stderr.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith(ERROR_PREFIX), stderr[-300:]
    assert all(word in lines[0] for word in words), lines[0]


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "Dockerfile"
    big.write_bytes(b"FROM debian:12\n" + b"# padding comment line\n" * (MAX_DOCKERFILE_BYTES // 23 + 1))
    assert big.stat().st_size > MAX_DOCKERFILE_BYTES
    for argv in (["check", big], ["harden", big]):
        result = run_cli(*argv)
        assert_refused(result.exit_code, result.stderr, "MiB", str(big))


def continued(lines: int) -> str:
    return "FROM debian:12\nRUN echo start" + " \\\n    && echo more" * (lines - 1) + "\nUSER 1000\n"


def heredoc(lines: int, terminated: bool = True) -> str:
    return "FROM debian:12\nRUN <<EOF\n" + "echo line\n" * (lines - 2) + ("EOF\nUSER 1000\n" if terminated else "")


@pytest.mark.parametrize("make", [continued, heredoc], ids=["continuation", "heredoc"])
def test_an_instruction_over_the_line_limit_is_refused(tmp_path: Path, make: Callable[[int], str]) -> None:
    assert [i.keyword for i in parse(make(MAX_INSTRUCTION_LINES)).instructions] == ["FROM", "RUN", "USER"]
    path = tmp_path / "Dockerfile"
    path.write_text(make(MAX_INSTRUCTION_LINES + 1), encoding="utf-8")
    for argv in (["check", path], ["harden", path]):
        result = run_cli(*argv)
        assert_refused(result.exit_code, result.stderr, f"{path}:2:", str(MAX_INSTRUCTION_LINES), "lines")


def test_a_huge_instruction_is_refused_fast(tmp_path: Path) -> None:
    """5 MB in one instruction (continuations; an unterminated heredoc): BuildKit's parser joins its
    lines by repeated concatenation, minutes for this; hardcase refuses it first."""
    for text in (continued(200_000), heredoc(500_000, terminated=False)):
        path = tmp_path / "Dockerfile"
        path.write_text(text, encoding="utf-8")
        code, stderr, seconds = run_process("check", path)
        assert_refused(code, stderr, "lines")
        assert seconds < 20, f"took {seconds:.1f} s"


def test_chunked_parsing_agrees_with_buildkit_on_the_whole_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """The text goes to BuildKit in chunks; with tiny chunks every continuation, heredoc and comment
    crosses a cut somewhere, and the instructions must still be BuildKit's own for the whole text."""
    import dockerfile

    import generator.audit.dockerfile as module

    pieces = ["RUN a \\\n  # inside\n\n  b", "COPY <<A <<B /x\nA\nx\nA\ny\nB", "# a comment", "",
              "RUN <<-EOF\n\techo\n\tEOF", "ENV A=1 \\\n B=2", 'CMD ["x", \\\n "y"]', "LABEL a=b"]
    text = "# escape=\\\nFROM debian:12\n" + "\n".join(pieces[i % len(pieces)] for i in range(400)) + "\n"
    monkeypatch.setattr(module, "PARSE_CHUNK", 40)
    ours = [(i.keyword, i.value, i.start_line, i.end_line, i.heredocs) for i in parse(text).instructions]
    theirs = [(c.cmd.upper(), c.value, c.start_line, c.end_line, tuple(h.content for h in c.heredocs))
              for c in dockerfile.parse_string(text)]
    assert ours == theirs


def test_the_package_pin_hint_names_the_command_that_works(tmp_path: Path) -> None:
    """HC048's hint: pins need review, so `--pin-packages` only works with `--unsafe-fixes`."""
    path = tmp_path / "Dockerfile"
    path.write_text("FROM debian:12\nRUN apt-get install -y curl\n", encoding="utf-8")
    findings = [v.message for v in check(parse(path.read_text()), Config()) if v.rule_id == "HC048"]
    assert findings and "`harden --unsafe-fixes --pin-packages`" in findings[0], findings
    result = run_cli("harden", path, "--pin-packages")
    assert_refused(result.exit_code, result.stderr, "--unsafe-fixes")


def test_harden_on_a_directory_says_it_is_a_directory(tmp_path: Path) -> None:
    result = run_cli("harden", tmp_path)
    assert_refused(result.exit_code, result.stderr, "directory")
    assert "no such file" not in result.stderr


def test_consecutive_runs_merge_into_runs_of_at_most_32_commands() -> None:
    """10,000 one-command RUNs used to become one RUN of 10,000 lines (minutes for BuildKit to parse,
    now over the line limit): HC055 merges at most 32 into one."""
    text = "FROM debian:12-slim\n" + "".join(f"RUN echo step {i}\n" for i in range(70)) + "USER 1000\n"
    result = harden(parse(text), Config(select=frozenset({"HC055"})), unsafe=True)
    runs = [i for i in parse(result.text).instructions if i.keyword == "RUN"]
    assert [i.command.count("echo step") for i in runs] == [32, 32, 6]
