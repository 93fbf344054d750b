"""What the project keeps of what people wrote: decided, and truncated, here and only here."""

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
