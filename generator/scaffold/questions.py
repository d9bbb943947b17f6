"""The only adapter to questionary: asks one question with its help line and inline validation.

Prompts happen before anything is rendered; answers come back as raw values and are coerced and
validated by `answers`, exactly like values from files and flags.
"""

from __future__ import annotations

from typing import Any

from generator.core.errors import AnswerError, HardcaseError, UsageError
from generator.scaffold.answers import Partial, Question, _validated, coerce


def _as_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def ask(question: Question, default: Any, partial: Partial) -> Any:
    import questionary

    label = question.key.replace("_", " ")
    if question.kind == "choice" and question.choices is not None:
        choices = list(question.choices(partial))
        answer = questionary.select(
            label, choices=choices, default=default if default in choices else None, instruction=question.help
        ).ask()
    elif question.kind == "bool":
        answer = questionary.confirm(f"{label} ({question.help})", default=bool(default)).ask()
    else:
        def validate(text: str) -> bool | str:
            try:
                _validated(question, coerce(question, text), partial)
            except AnswerError as exc:
                return str(exc)
            return True

        hint = " (comma-separated)" if question.kind in ("ints", "strs") else ""
        answer = questionary.text(
            f"{label}{hint}", default=_as_text(default), instruction=question.help, validate=validate
        ).ask()
    if answer is None:  # Ctrl-C or Ctrl-D at the prompt
        raise Interrupted("cancelled at the prompt; nothing written")
    return answer


def confirm(message: str) -> bool:
    """A yes/no question whose safe answer is the default: no (e.g. following an unfamiliar template)."""
    import questionary

    answer = questionary.confirm(message, default=False).ask()
    if answer is None:  # Ctrl-C or Ctrl-D at the prompt
        raise Interrupted("cancelled at the prompt; nothing written")
    return bool(answer)


class Interrupted(UsageError):
    pass


__all__ = ["HardcaseError", "Interrupted", "ask", "confirm"]
