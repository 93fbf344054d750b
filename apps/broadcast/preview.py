"""A broadcast's text as the admin's preview shows it. The text is Telegram's HTML, typed by staff: it is
written out again with only the tags Telegram knows and no attribute but a link's checked address, so
whatever is typed (an onclick, a script, a half-written tag) never runs or breaks the admin's page."""

from html import escape
from html.parser import HTMLParser

from django.utils.safestring import SafeString, mark_safe

# Telegram's tags and their aliases → the tag the preview writes; tg-emoji shows its fallback emoji.
_TAGS = {
    "b": "b", "strong": "b", "i": "i", "em": "i", "u": "u", "ins": "u", "s": "s", "strike": "s", "del": "s",
    "tg-spoiler": "span", "span": "span", "code": "code", "pre": "pre", "blockquote": "blockquote", "a": "a",
    "tg-emoji": "span",
}  # fmt: skip
_LINK_SCHEMES = ("https://", "http://", "tg://")


def telegram_html_preview(text: str) -> SafeString:
    """Safe HTML for the preview, whether or not the text is valid (validation says what Telegram would
    refuse; the preview still shows what it can): unknown tags are dropped, stray closing tags ignored and
    unclosed ones closed at the end."""
    writer = _PreviewWriter()
    writer.feed(text)
    writer.close()
    return mark_safe("".join(writer.out))  # noqa: S308 - every piece is escaped or one of _TAGS


class _PreviewWriter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TAGS:
            return
        written = _TAGS[tag]
        self.open.append(written)
        if tag == "a":
            href = (dict(attrs).get("href") or "").strip()
            if href.lower().startswith(_LINK_SCHEMES):
                self.out.append(f'<a href="{escape(href)}" target="_blank" rel="noopener noreferrer">')
                return
        elif written == "span" and tag != "tg-emoji":
            self.out.append('<span class="tg-spoiler">')
            return
        self.out.append(f"<{written}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in _TAGS and self.open and self.open[-1] == _TAGS[tag]:
            self.out.append(f"</{self.open.pop()}>")

    def handle_data(self, data: str) -> None:
        self.out.append(escape(data, quote=False))

    def close(self) -> None:
        super().close()
        self.out.extend(f"</{tag}>" for tag in reversed(self.open))
        self.open.clear()
