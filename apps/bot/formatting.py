from apps.core.sending import TEXT_LIMIT


def split_message(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Telegram takes at most 4096 characters a message: cut at a paragraph, else a line, else a
    space, and only mid-word when a single word is longer than the limit."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _cut(rest, limit)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def _cut(text: str, limit: int) -> int:
    for separator in ("\n\n", "\n", " "):
        # The separator may start right at the limit: what comes before it still fits.
        cut = text.rfind(separator, 0, limit + len(separator))
        if cut > 0:
            return cut
    return limit
