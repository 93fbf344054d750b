"""Telegram's HTML, checked before a broadcast goes out: a message Telegram would refuse with
"can't parse entities" must be caught in the admin, not ten thousand times by the sender."""

import re

from django.core.exceptions import ValidationError

from apps.core.sending import TEXT_LIMIT

ALLOWED_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre",
    "blockquote", "tg-emoji",
}  # fmt: skip
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*>")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});")
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")


def validate_telegram_html(text: str, *, limit: int = TEXT_LIMIT) -> None:
    """Raises ValidationError naming the first problem: an unknown or unclosed tag, a bare < or &, a
    link without href, or a text longer than Telegram takes (counted as Telegram counts, in UTF-16)."""
    if not text or not text.strip():
        raise ValidationError("the text is empty")
    open_tags: list[str] = []
    visible: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "<":
            tag = _TAG.match(text, position)
            if tag is None:
                raise ValidationError(f"a bare “<” at character {position + 1}: write &lt;")
            closing, name, attributes = tag.group(1) == "/", tag.group(2).lower(), tag.group(3)
            if name not in ALLOWED_TAGS:
                raise ValidationError(f"<{name}> is not a tag Telegram knows")
            if closing:
                if not open_tags or open_tags[-1] != name:
                    raise ValidationError(f"</{name}> closes a tag that is not open")
                open_tags.pop()
            else:
                if name == "a" and not _HREF.search(attributes):
                    raise ValidationError('a link <a> needs href="…"')
                if name == "span" and "tg-spoiler" not in attributes:
                    raise ValidationError('<span> is only for spoilers: <span class="tg-spoiler">')
                open_tags.append(name)
            position = tag.end()
        elif char == "&":
            entity = _ENTITY.match(text, position)
            if entity is None:
                raise ValidationError(f"a bare “&” at character {position + 1}: write &amp;")
            visible.append("x")
            position = entity.end()
        else:
            visible.append(char)
            position += 1
    if open_tags:
        raise ValidationError(f"<{open_tags[-1]}> is never closed")
    length = len("".join(visible).encode("utf-16-le")) // 2
    if length > limit:
        raise ValidationError(f"the text is {length} characters long; Telegram takes at most {limit} here")
