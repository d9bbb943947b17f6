"""The only adapter to questionary: asks one question with its help line and inline validation.

Prompts happen before anything is rendered; answers come back as raw values and are coerced and
validated by `answers`, exactly like values from files and flags.

Everything a prompt shows (message, help line, the default in the edit line, choice titles, an
inline validation error, a confirmation question naming a template source) can come from an org
preset or an answers file, so it passes through `printable` first: a bidi override or an escape
sequence in a preset is shown as `\u202e`, never obeyed by the terminal. What is shown is not what
is returned: a choice keeps its value, and accepting an escaped default returns the default itself.
"""

from __future__ import annotations

from typing import Any

from generator.core.errors import AnswerError, HardcaseError, UsageError
from generator.core.terminal import printable
from generator.scaffold.answers import Partial, Question, _validated, coerce


def _as_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def ask(question: Question, default: Any, partial: Partial) -> Any:
    import questionary

    label = printable(question.key.replace("_", " "))
    instruction = printable(question.help)
    if question.kind == "choice" and question.choices is not None:
        choices = list(question.choices(partial))
        answer = questionary.select(
            label, choices=[questionary.Choice(title=printable(str(choice)), value=choice) for choice in choices],
            default=default if default in choices else None, instruction=instruction,
        ).ask()
    elif question.kind == "bool":
        answer = questionary.confirm(f"{label} ({instruction})", default=bool(default)).ask()
    else:
        original = _as_text(default)
        shown = printable(original)

        def unshown(text: str) -> str:
            """The default itself when the escaped default shown in the edit line is accepted."""
            return original if text == shown else text

        def validate(text: str) -> bool | str:
            try:
                _validated(question, coerce(question, unshown(text)), partial)
            except AnswerError as exc:
                return printable(str(exc))
            return True

        hint = " (comma-separated)" if question.kind in ("ints", "strs") else ""
        answer = questionary.text(
            f"{label}{hint}", default=shown, instruction=instruction, validate=validate
        ).ask()
        answer = None if answer is None else unshown(answer)
    if answer is None:  # Ctrl-C or Ctrl-D at the prompt
        raise Interrupted("cancelled at the prompt; nothing written")
    return answer


def confirm(message: str) -> bool:
    """A yes/no question whose safe answer is the default: no (e.g. following an unfamiliar template)."""
    import questionary

    answer = questionary.confirm(printable(message), default=False).ask()
    if answer is None:  # Ctrl-C or Ctrl-D at the prompt
        raise Interrupted("cancelled at the prompt; nothing written")
    return bool(answer)


class Interrupted(UsageError):
    pass


__all__ = ["HardcaseError", "Interrupted", "ask", "confirm"]
