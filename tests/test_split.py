"""HC070's split of a single-stage build, beyond its YAML cases: the reason a file is kept in one stage
is in the finding, the split is applied in a pass of its own (so the other rules' fixes land in the
stage their instructions end up in), and the hardened result keeps the build in the build stage."""

from __future__ import annotations

import pytest
from harden_support import harden_text

from generator.audit.dockerfile import parse
from generator.audit.fix import select_fixes
from generator.audit.lint import Config, check
from generator.audit.model import Edit, Fix, FixSafety, Violation

GO = (
    "FROM golang:1.27-bookworm\n"
    "WORKDIR /src\n"
    "COPY . .\n"
    "RUN go build -o /usr/local/bin/app .\n"
    "EXPOSE 8080\n"
    "CMD {cmd}\n"
)


def hc070_messages(text: str) -> list[str]:
    return [v.message for v in check(parse(text), Config()) if v.rule_id == "HC070"]


@pytest.mark.parametrize(("text", "reason"), [
    (GO.format(cmd='["app"]').replace("golang:1.27-bookworm", "golang:1.27"),
     "does not name the Debian release"),
    (GO.format(cmd='["sh", "-c", "app"]'), "runs `sh`, which is not a binary the build names"),
    (GO.format(cmd='["app"]').replace("-o /usr/local/bin/app ", ""), "has no -o"),
    (GO.format(cmd='["app"]').replace(" .\n", " . && chmod 4755 /usr/local/bin/app\n"), "runs `chmod`"),
    (GO.format(cmd='["app"]').replace("RUN go build", "RUN go install ./... && go build"), "runs `go install`"),
    (GO.format(cmd='["app"]').replace("COPY . .\n", "COPY . .\nVOLUME /data\n"), "VOLUME at line 4"),
    (GO.format(cmd='["app"]').replace("COPY . .\n", "COPY . .\nUSER app\n"), "USER app is a name"),
    ("FROM rust:1.90-bookworm\nCOPY main.rs /src/\nRUN rustc -o /usr/local/bin/app /src/main.rs\nCMD [\"app\"]\n",
     "no WORKDIR: rust:1.90-bookworm's working directory is not known"),
    ("FROM debian:12-slim\nRUN apt-get update && apt-get install -y gcc\nWORKDIR src\n"
     "RUN gcc -o app app.c\nCMD [\"./app\"]\n", "depends on the base image's working directory"),
    (GO.format(cmd='["app"]').replace("COPY . .\n", "COPY . .\nARG VERSION=1\n").replace(
        "EXPOSE 8080", "LABEL version=$VERSION"), "uses the build argument VERSION"),
    ("FROM rust:1.90-bookworm\nCOPY . .\nRUN cargo build --release\nCMD [\"/target/release/app\"]\n",
     "cargo names its binaries after Cargo.toml"),
    ("FROM debian:12-slim\nRUN apt-get update && apt-get install -y gcc libssl-dev\n"
     "RUN gcc -o /app /app.c\nCMD [\"/app\"]\n", "libssl-dev is installed"),
    ("FROM debian:12-slim\nRUN apt-get update && apt-get install -y gcc\n"
     "RUN gcc -o /app /app.c > /build.log\nCMD [\"/app\"]\n", "redirects into files"),
    ("FROM debian:12-slim\nRUN apt-get update && apt-get upgrade -y && apt-get install -y gcc\n"
     "RUN gcc -o /app /app.c\nCMD [\"/app\"]\n", "`apt-get upgrade`"),
    ("FROM debian:12-slim\nRUN apt-get update && apt-get install -y openjdk-17-jdk-headless\n"
     "RUN javac -d /app Main.java\nCMD [\"java\", \"-cp\", \"/app\", \"Main\"]\n",
     "openjdk-17-jdk-headless is installed: what it builds needs a runtime"),
    ("FROM debian:12-slim\nRUN apt-get update && apt-get install -y gcc curl\n"
     "RUN gcc -o /app /app.c\nCMD [\"/app\"]\n", "curl is installed without a version"),
    ("FROM python:3.11-slim-bookworm\nRUN apt-get update && apt-get install -y gcc\n"
     "COPY requirements.txt .\nRUN pip install -r requirements.txt\nCMD [\"python\", \"app.py\"]\n",
     "needs an absolute, literal destination"),
    ("FROM python:3\nRUN apt-get update && apt-get install -y gcc\nRUN pip install flask\nCMD [\"flask\", \"run\"]\n",
     "does not name the Python version"),
    ("FROM python:3.11-slim-bookworm\nRUN apt-get update && apt-get install -y gcc\nRUN pip install -e /src\n"
     "CMD [\"python\", \"-m\", \"app\"]\n", "installs outside site-packages"),
    ("FROM python:3.11-slim-bookworm\nRUN apt-get update && apt-get install -y gcc\nRUN pip install flask\n"
     "CMD [\"make\", \"serve\"]\n", "runs `make`"),
    ("FROM debian:12-slim\nRUN apt-get update && apt-get install -y gcc python3-pip\nRUN pip install flask\n"
     "CMD [\"flask\", \"run\"]\n", "python3-pip is installed without a version"),
])
def test_the_finding_says_why_the_file_is_not_split(text: str, reason: str) -> None:
    (message,) = hc070_messages(text)
    assert "not split automatically" in message and reason in message, message
    assert harden_text(text, config=Config(select=frozenset({"HC070"}))).text == text


def test_a_splittable_file_has_no_reason_in_its_finding() -> None:
    (message,) = hc070_messages(GO.format(cmd='["app"]'))
    assert message == "compilers/SDKs ship in the only stage: golang"


def _violation(rule_id: str, fix: Fix) -> Violation:
    return Violation(rule_id, 1, "m", None, 0, fix)


def test_a_fix_that_must_be_alone_is_applied_alone_and_first() -> None:
    earlier = _violation("HC001", Fix((Edit.insert(0, "a"),), FixSafety.SAFE))
    other = _violation("HC002", Fix((Edit.insert(5, "b"),), FixSafety.SAFE))
    alone = _violation("HC070", Fix((Edit.insert(9, "c"),), FixSafety.NEEDS_REVIEW, alone=True))
    assert select_fixes([earlier, other, alone]) == [(alone, alone.fix)]
    assert select_fixes([earlier, other]) == [(earlier, earlier.fix), (other, other.fix)]


def _stages(text: str) -> list[str]:
    """The text of each stage, FROM line first."""
    parts = text.split("\nFROM ")
    return [parts[0], *("FROM " + part for part in parts[1:])]


def test_harden_builds_in_the_build_stage_and_hardens_the_runtime_stage() -> None:
    text = GO.format(cmd="app")
    result = harden_text(text)
    build, runtime = _stages(result.text)
    assert build.startswith("FROM golang:1.27-bookworm") and " AS build" in build.splitlines()[0]
    assert "RUN go build -o /usr/local/bin/app ." in build
    # The other rules ran on the split file: the user is created in, and set for, the runtime stage.
    assert "useradd" not in build and "USER" not in build
    assert runtime.startswith("FROM debian:12-slim")
    assert "COPY --from=build /usr/local/bin/app /usr/local/bin/app" in runtime
    assert "useradd --system --uid 10001" in runtime and "USER 10001:10001" in runtime
    assert runtime.rstrip().endswith('CMD ["app"]')
    assert "HC070" not in {v.rule_id for v in result.remaining}
    assert harden_text(result.text).text == result.text


def test_safe_fixes_alone_never_split() -> None:
    text = GO.format(cmd='["app"]')
    assert harden_text(text, unsafe=False).text.count("FROM ") == 1


def test_a_fix_applied_alone_that_breaks_the_file_is_dropped_and_the_others_still_apply(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from generator.audit import lint
    from generator.core.record import replace

    def breaking(parsed: object, violation: Violation) -> Fix:
        return Fix((Edit.insert(0, "NOT-AN-INSTRUCTION x\n"),), FixSafety.NEEDS_REVIEW, "broken", alone=True)

    rules = tuple(replace(rule, fix=breaking) if rule.id == "HC070" else rule for rule in lint.RULES)
    monkeypatch.setattr(lint, "RULES", rules)
    text = GO.format(cmd="app")
    result = harden_text(text)
    assert "NOT-AN-INSTRUCTION" not in result.text and result.text.count("FROM ") == 1
    assert 'CMD ["app"]' in result.text and "USER 10001:10001" in result.text
    assert "HC070" in {v.rule_id for v in result.remaining}


def test_the_golang_image_working_directory_and_the_platform_carry_over() -> None:
    text = ("FROM --platform=linux/amd64 golang:1.27-bookworm\nCOPY . src/\nWORKDIR src\n"
            "RUN go build -o server .\nCMD [\"./server\"]\n")
    result = harden_text(text, config=Config(select=frozenset({"HC070"})))
    build, runtime = _stages(result.text)
    assert build.splitlines()[0] == "FROM --platform=linux/amd64 golang:1.27-bookworm AS build"
    assert runtime.splitlines()[0] == "FROM --platform=linux/amd64 debian:12-slim"
    assert "COPY --from=build /go/src/server /go/src/server" in runtime
    assert "WORKDIR /go/src" in runtime
    # Without a WORKDIR the golang image starts in /go: the runtime stage says so.
    plain = harden_text(GO.format(cmd='["app"]').replace("WORKDIR /src\n", ""),
                        config=Config(select=frozenset({"HC070"}))).text
    assert "WORKDIR /go" in _stages(plain)[1]
