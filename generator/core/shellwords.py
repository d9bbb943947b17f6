"""Shell scripts as the simple commands they run, each as its words after quote removal.

Anything that asks "does this RUN line call X with Y" needs the commands a shell would run, not a
whitespace split: `apt-get -y install X`, `a && b`, `a | b`, `(a)`, `f() { a; }`, `$(a)`, quotes
inside words (`"cu"rl` is `curl`), backslash escapes (`\\apt-get`) and line continuations all change
what a naive reader sees. The script is parsed with tree-sitter-bash (a real grammar, loaded only
when first needed); every `command` node anywhere in the tree is one `Command`, heredoc bodies
included (`RUN <<EOF` runs its body as a script, so a body is read as one too).

A word whose value depends on the environment (`$PKG`, `${X:-y}`, `$(cat f)`, a glob) is kept, with
`value` None: the caller decides what "cannot tell" means (the org policy counts it as a violation).
A script the grammar cannot fully parse is also read word by word with `shlex`, so an error node
never hides a command.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

MAX_NESTING = 8  # heredoc bodies read as scripts, inside heredocs...
DYNAMIC = frozenset({"simple_expansion", "expansion", "command_substitution", "process_substitution",
                     "arithmetic_expansion", "brace_expression"})
SEPARATORS = frozenset({"&&", "||", ";", "|", "&", "|&", ";;", "(", ")", "{", "}", "!"})
_BRACES = re.compile(r"^(?P<head>[^{]*)\{(?P<body>[^{}]*,[^{}]*)\}(?P<tail>.*)$", re.DOTALL)


@dataclass(frozen=True)
class Word:
    """One shell word: its source text, and its value after quote removal (None: not knowable)."""

    raw: str
    value: str | None


@dataclass(frozen=True)
class Command:
    """A simple command: the words after any `NAME=value` prefixes (the first is the command name)."""

    words: tuple[Word, ...]
    assignments: tuple[str, ...] = ()

    def values(self) -> list[str | None]:
        return [word.value for word in self.words]


def _parser() -> Any:
    import tree_sitter
    import tree_sitter_bash

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))


_PARSER: Any = None


def _text(node: Any) -> str:
    raw: bytes = node.text or b""
    return raw.decode("utf-8", "replace")


def _unescape_bare(text: str) -> str:
    """Backslash removal outside quotes: `\\x` is x, a backslash-newline disappears."""
    return re.sub(r"\\(.)", lambda m: "" if m.group(1) == "\n" else m.group(1), text, flags=re.DOTALL)


def _ansi_c(text: str) -> str | None:
    body = text[2:-1]
    try:
        return body.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except (UnicodeDecodeError, ValueError):
        return None


def _value(node: Any) -> str | None:
    """The value of a word node after quote removal, or None when it depends on the environment."""
    kind = node.type
    text: str = _text(node)
    if kind in DYNAMIC:
        return None
    if kind == "word":  # a glob that matches no file stays as written, which is what a build sees
        return _unescape_bare(text)
    if kind in ("number", "string_content", "heredoc_content"):
        return text
    if kind == "raw_string":
        return text[1:-1]
    if kind == "ansi_c_string":
        return _ansi_c(text)
    if kind == "translated_string":  # $"..." is a double-quoted string
        return _value(node.children[1]) if node.child_count == 2 else None
    if kind == "string":
        parts: list[str] = []
        for child in node.children:
            if child.type == '"':
                continue
            if child.type == "string_content":
                parts.append(re.sub(r'\\([$`"\\\n])', lambda m: "" if m.group(1) == "\n" else m.group(1),
                                    _text(child)))
            else:
                value = _value(child)
                if value is None:
                    return None
                parts.append(value)
        return "".join(parts)
    if kind == "concatenation":
        values = [_value(child) for child in node.children]
        return None if any(v is None for v in values) else "".join(v for v in values if v is not None)
    return None


def _expand_braces(text: str) -> list[str]:
    """`{cu,w}rl` → curl wrl (unquoted brace expansion with commas; ranges stay unknowable)."""
    match = _BRACES.match(text)
    if match is None:
        return [text]
    return [expanded for option in match.group("body").split(",")
            for expanded in _expand_braces(match.group("head") + option + match.group("tail"))]


def _words(node: Any) -> list[Word]:
    raw = _text(node)
    value = _value(node)
    if value is not None and node.type in ("word", "concatenation") and "{" in raw and "," in raw:
        return [Word(raw, expanded) for expanded in _expand_braces(value)]
    return [Word(raw, value)]


def _command(node: Any) -> Command:
    words: list[Word] = []
    assignments: list[str] = []
    for child in node.children:
        if child.type == "variable_assignment":
            assignments.append(_text(child))
        elif child.type == "command_name":
            for part in child.children:
                words.extend(_words(part))
        elif child.is_named and child.type not in ("file_redirect", "heredoc_redirect", "herestring_redirect",
                                                   "comment"):
            words.extend(_words(child))
    return Command(tuple(words), tuple(assignments))


def _walk(node: Any, found: list[Command], depth: int) -> None:
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "command":
            found.append(_command(current))
        elif current.type == "heredoc_body" and depth < MAX_NESTING:
            found.extend(commands(_text(current), depth + 1))
            continue
        stack.extend(reversed(current.children))


def _fallback(script: str) -> list[Command]:
    """Word-by-word reading for a script the grammar could not fully parse: each run of words
    between separators is a command."""
    try:
        lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        tokens = script.split()
    found: list[Command] = []
    current: list[Word] = []
    for token in [*tokens, ";"]:
        if token in SEPARATORS or set(token) <= set("&|;()"):
            if current:
                found.append(Command(tuple(current)))
            current = []
        else:
            current.append(Word(token, None if "$" in token or "`" in token else token))
    return found


def commands(script: str, depth: int = 0) -> list[Command]:
    """Every simple command in `script`, in source order (nested ones after the command holding them)."""
    global _PARSER
    if _PARSER is None:
        _PARSER = _parser()
    tree = _PARSER.parse(script.encode("utf-8", "surrogatepass"))
    found: list[Command] = []
    _walk(tree.root_node, found, depth)
    if tree.root_node.has_error:
        found.extend(_fallback(script))
    return found
