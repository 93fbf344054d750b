import pytest
from django.core.exceptions import ValidationError

from apps.broadcast.html import validate_telegram_html
from apps.core.sending import CAPTION_LIMIT


@pytest.mark.parametrize(
    "text",
    [
        "plain text",
        "<b>bold</b>, <i>italic</i>, <u>u</u>, <s>s</s>, <tg-spoiler>x</tg-spoiler>",
        '<a href="https://example.com/?a=1&amp;b=2">link</a> and <code>x &lt; y</code>',
        '<pre><code class="language-python">print(1)</code></pre><blockquote expandable>q</blockquote>',
        '<span class="tg-spoiler">hidden</span> &#128512; &quot;quoted&quot;',
    ],
)
def test_what_telegram_takes_passes(text):
    validate_telegram_html(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("<div>block</div>", "<div> is not a tag Telegram knows"),
        ("<b>open", "<b> is never closed"),
        ("<b><i>crossed</b></i>", "</b> closes a tag that is not open"),
        ("1 < 2", "a bare “<” at character 3"),
        ("Tom & Jerry", "a bare “&” at character 5"),
        ("<a>no target</a>", "needs href"),
        ("<span>plain</span>", "only for spoilers"),
    ],
)
def test_what_telegram_would_refuse_is_named(text, problem):
    with pytest.raises(ValidationError, match=problem):
        validate_telegram_html(text)


def test_the_length_is_counted_as_telegram_counts_it():
    validate_telegram_html("<b>" + "x" * 4096 + "</b>"), "tags do not count"
    validate_telegram_html("&amp;" * 4096), "an entity is one character"
    with pytest.raises(ValidationError, match="4097 characters"):
        validate_telegram_html("x" * 4097)
    with pytest.raises(ValidationError, match="1026 characters"):
        validate_telegram_html("😀" * 513, limit=CAPTION_LIMIT)  # two UTF-16 units each
