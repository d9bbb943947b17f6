"""Issue #11, class 16: parser directives are read exactly as BuildKit reads them.

BuildKit (frontend/dockerfile/parser/directives.go) knows `syntax`, `escape` and `check`; directives
only count at the very top, and the first line that is not one (a blank line, another comment, an
unknown `# key=value`, an instruction) ends them. The reference is BuildKit itself: the `dockerfile`
package wraps its Go parser, and for every case here hardcase must find the instructions it finds
(or refuse what it refuses). That BuildKit is older than the current one in two ways, both tested
against a text it reads the same way: it does not know `check` (so a `check` line is compared as a
`syntax` line, which both versions accept), and it trims only ASCII space after `#`.
"""

from __future__ import annotations

import dockerfile
import pytest
from corpus_support import run_cli

from generator.audit.dockerfile import parse
from generator.core.errors import UsageError

# Valid under either escape character, and split differently by each.
BODY = "FROM debian:12\nRUN echo a `\nRUN echo b\nRUN echo c \\\nRUN echo d\n"

SAME_AS_BUILDKIT = {
    "escape": "# escape=`\n" + BODY,
    "escape-backslash": "# escape=\\\n" + BODY,
    "blank-line-first": "\n# escape=`\n" + BODY,
    "unknown-directive-first": "# x=1\n# escape=`\n" + BODY,
    "unknown-directive-underscore": "# foo_bar=1\n# escape=`\n" + BODY,
    "unknown-directive-dash": "# foo-bar=1\n# escape=`\n" + BODY,
    "key-starts-with-digit": "# 1x=1\n# escape=`\n" + BODY,
    "comment-first": "# hello\n# escape=`\n" + BODY,
    "empty-comment-first": "#\n# escape=`\n" + BODY,
    "shebang-first": "#!/usr/bin/env buildctl\n# escape=`\n" + BODY,
    "after-an-instruction": "FROM debian:12\n# escape=`\n" + BODY.split("\n", 1)[1],
    "spaces": "   #   escape   =   `   \n" + BODY,
    "tab-before-hash": "\t# escape=`\n" + BODY,
    "nbsp-before-hash": "\u00a0# escape=`\n" + BODY,
    "no-space-after-hash": "#escape=`\n" + BODY,
    "upper-case-key": "# ESCAPE=`\n" + BODY,
    "syntax-then-escape": "# syntax=docker/dockerfile:1\n# escape=`\n" + BODY,
    "escape-then-syntax": "# escape=`\n# syntax=docker/dockerfile:1 with words\n" + BODY,
    "blank-line-between": "# syntax=docker/dockerfile:1\n\n# escape=`\n" + BODY,
    "bom": "\ufeff# escape=`\n" + BODY,
    "crlf": ("# escape=`\n" + BODY).replace("\n", "\r\n"),
    "empty-value": "# escape=\n" + BODY,
    "duplicate-escape": "# escape=`\n# escape=`\n" + BODY,
    "duplicate-in-other-case": "# Escape=`\n# escape=\\\n" + BODY,
    "duplicate-syntax": "# syntax=a\n# Syntax=b\n" + BODY,
    "invalid-escape": "# escape=x\n" + BODY,
    "escape-with-a-word": "# escape=` x\n" + BODY,
    "directives-only": "# escape=`",
    "directive-like-comment-later": "# escape=`\nFROM debian:12\n# escape=\\\n" + BODY.split("\n", 1)[1],
}


def buildkit(text: str) -> list[tuple[str, tuple[str, ...], int, int]] | None:
    """BuildKit's instructions (None: it refuses the text)."""
    try:
        return [(c.cmd.upper(), c.value, c.start_line, c.end_line) for c in dockerfile.parse_string(text)]
    except dockerfile.GoParseError:
        return None


def ours(text: str) -> list[tuple[str, tuple[str, ...], int, int]] | None:
    try:
        parsed = parse(text)
    except UsageError:
        return None
    return [(i.keyword, i.value, i.start_line, i.end_line) for i in parsed.instructions]


@pytest.mark.parametrize("name", SAME_AS_BUILDKIT)
def test_directives_are_read_as_buildkit_reads_them(name: str) -> None:
    text = SAME_AS_BUILDKIT[name]
    expected = buildkit(text)
    assert ours(text) == expected
    if expected is not None and name != "directives-only":
        # The escape character hardcase edits with is the one BuildKit joined lines with.
        joined = any("echo a" in " ".join(value) and "echo b" in " ".join(value) for _, value, _, _ in expected)
        assert parse(text).escape == ("`" if joined else "\\")


@pytest.mark.parametrize(("text", "reference"), [
    # `check` is a directive: it neither ends the block nor hides the escape after it.
    ("# check=skip=JSONArgsRecommended;error=true\n# escape=`\n" + BODY, "# syntax=x\n# escape=`\n" + BODY),
    ("# escape=`\n# check=skip=all\n" + BODY, "# escape=`\n# syntax=x\n" + BODY),
    # Any Unicode space after `#` is trimmed (Go's unicode.IsSpace), as between key, `=` and value.
    ("#\v escape=`\n" + BODY, "#  escape=`\n" + BODY),
    ("#\u2003escape=`\n" + BODY, "# escape=`\n" + BODY),
], ids=["check-then-escape", "escape-then-check", "vertical-tab", "em-space"])
def test_current_buildkit_rules_over_the_older_parser(text: str, reference: str) -> None:
    expected = buildkit(reference)
    assert expected is not None
    assert ours(text) == expected


def test_a_check_directive_parses_and_is_kept() -> None:
    parsed = parse("# check=skip=JSONArgsRecommended;error=true\nFROM debian:12\nCMD [\"x\"]\n")
    assert parsed.directives == {"check": "skip=JSONArgsRecommended;error=true"}
    assert parsed.escape == "\\"


@pytest.mark.parametrize("text", ["# check=a\n# check=b\n" + BODY, "# CHECK=a\n# check=b\n" + BODY])
def test_a_repeated_check_directive_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="only one check parser directive"):
        parse(text)


def test_an_unknown_directive_ends_the_block_for_harden_too(tmp_path: object) -> None:
    """`# x=1` first: the escape line after it is a comment, so `\\` continues lines and a fix that
    joins lines writes `\\`, never the backtick."""
    text = "# x=1\n# escape=`\nFROM debian:12\nRUN echo a\nRUN echo b\n"
    parsed = parse(text)
    assert parsed.escape == "\\" and parsed.directives == {}
    from generator.audit.fix import harden
    from generator.audit.lint import Config

    result = harden(parsed, Config(select=frozenset({"HC055"})), unsafe=True)
    assert "&& \\\n" in result.text and "`\n" not in result.text.split("\n", 2)[2]
    assert buildkit(result.text) is not None and [i.keyword for i in parse(result.text).instructions] == ["FROM", "RUN"]


def test_check_directive_through_the_cli(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "Dockerfile"
    path.write_text("# check=skip=JSONArgsRecommended;error=true\n# escape=`\n" + BODY + "USER 10001:10001\n",
                    encoding="utf-8")
    result = run_cli("check", path, "--format", "json")
    assert result.exit_code in (0, 1), result.stderr
    assert '"HC' in result.stdout
