"""What the project keeps of what people wrote: decided, and truncated, here and only here."""

import re
from collections.abc import Iterable

from django.conf import settings

PROMPT_LIMIT = 1000
ERROR_LIMIT = 500


def stored_prompt(text: str | None) -> str:
    """Prompt or answer text as stored: nothing unless STORE_PROMPTS, then at most 1000 characters."""
    if not settings.STORE_PROMPTS or not text:
        return ""
    return text[:PROMPT_LIMIT]


def stored_error(text: str | None) -> str:
    return (text or "")[:ERROR_LIMIT]


def mentions(text: str, names: Iterable[str]) -> bool:
    """Whether `text` holds one of `names` (what identifies a person: their id, username, names), in any case."""
    folded = text.casefold()
    return any(name.casefold() in folded for name in names)


def redacted(text: str, names: Iterable[str], *, mark: str = "[erased]") -> str:
    """`text` with each of `names` replaced by `mark`, in any case: a note by staff about someone keeps its
    sense once that person is erased, not them. A name is a whole word: a longer name, username or number it
    is part of (Max in @maxwell, 1801 in 180123) is somebody else's."""
    for name in names:
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", mark, text, flags=re.IGNORECASE)
    return text
