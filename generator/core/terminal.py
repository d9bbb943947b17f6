"""Text for a terminal: input-derived strings printed so they cannot drive or disguise the terminal.

Image names, labels, paths, rule messages, preset descriptions and container output all come from
files hardcase did not write. Printed raw, an ESC sequence in them can recolour, clear or retitle the
terminal, a carriage return or newline can overwrite or forge a report line, and a bidi override
(U+202E) or zero-width character can make a line read differently from what it says (Trojan Source).
`printable` is applied where text leaves hardcase for a human (text reports, notes, error lines);
JSON and SARIF need nothing more because `json.dumps` (ensure_ascii, the default) escapes every
non-ASCII and control character itself.

What is escaped: control characters (Cc: C0, DEL, C1), format characters (Cf: bidi controls,
zero-width characters, the BOM, tag characters), line and paragraph separators (Zl, Zp), and lone
surrogates (Cs: undecodable bytes in file names, which would otherwise crash the UTF-8 stdout).
Each becomes a Python-style escape (`\\x1b`, `\\u202e`, `\\U000e0041`, `\\n`). Everything else,
including every other non-ASCII letter, symbol and space, is returned unchanged, so ordinary text
prints exactly as before. Backslashes are not doubled, for the same reason: an escape in the output
may also be a literal backslash sequence in the input; both are harmless to the terminal.

Imported by `hardcase check`'s fast start: nothing at module level but this docstring.
"""

from __future__ import annotations

_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _escape(char: str) -> str:
    code = ord(char)
    if char in _SHORT:
        return _SHORT[char]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str, *, multiline: bool = False) -> str:
    """TEXT with every character that could drive or disguise a terminal replaced by a visible escape.

    One-line fields (a path, a message, an error) escape newlines and tabs too, so input cannot start
    a line of its own; `multiline=True` keeps newlines and tabs for blocks meant to span lines (a
    whole report, a diff).
    """
    if text.isprintable():  # the common case: no character str considers unprintable
        return text
    import unicodedata

    kept = "\n\t" if multiline else ""
    out = []
    for char in text:
        if char.isprintable() or char in kept:
            out.append(char)
        elif unicodedata.category(char) in _ESCAPED_CATEGORIES:
            out.append(_escape(char))
        else:  # other spaces (Zs), private use (Co), unassigned (Cn): shown as they are
            out.append(char)
    return "".join(out)

