"""The broadcast's preview: Telegram's HTML drawn with only the tags Telegram knows, whatever was typed, and
the endpoint the form's script asks as the text changes."""

import pytest
from django.urls import reverse

from apps.broadcast.preview import telegram_html_preview
from tests.factories import BroadcastFactory

PREVIEW_URL = reverse("admin:broadcast_broadcast_preview")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<b>bold</b> & <strong>strong</strong>", "<b>bold</b> &amp; <b>strong</b>"),
        ("<em>em</em><ins>ins</ins><del>del</del><strike>s</strike>", "<i>em</i><u>ins</u><s>del</s><s>s</s>"),
        ("x &lt; y &amp;&amp; &#128512;", "x &lt; y &amp;&amp; 😀"),
        ('<span class="tg-spoiler">s</span><tg-spoiler>s</tg-spoiler>', '<span class="tg-spoiler">s</span>' * 2),
        ('<pre><code class="language-python">1 > 0</code></pre>', "<pre><code>1 &gt; 0</code></pre>"),
        (
            '<a href="https://example.com/?a=1&amp;b=2">link</a>',
            '<a href="https://example.com/?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">link</a>',
        ),
        ("line one\nline two", "line one\nline two"),
        # What must never reach the admin's page as HTML.
        ('<a href="javascript:alert(1)">x</a>', "<a>x</a>"),
        ('<b onmouseover="alert(1)">x</b>', "<b>x</b>"),
        ("<script>alert(1)</script>", "alert(1)"),
        ('<img src=x onerror="alert(1)">', ""),
        ("<div><b>half", "<b>half</b>"),
        ("</i>stray<b>x</i></b>", "stray<b>x</b>"),
        ("1 < 2", "1 &lt; 2"),
        ("<!-- note -->seen", "seen"),
    ],
)  # fmt: skip
def test_the_preview_writes_only_what_telegram_shows(text, shown):
    assert telegram_html_preview(text) == shown


@pytest.mark.django_db
def test_the_preview_draws_the_message_as_typed_and_says_what_telegram_would_refuse(admin_client):
    answer = admin_client.post(
        PREVIEW_URL,
        {
            "text": '<b>Spring</b> is here <i onclick="steal()">now',
            "photo": "https://example.com/spring.jpg",
            "buttons": '[{"text": "Open <the> shop", "url": "https://example.com/shop"}]',
        },
    )
    assert answer.status_code == 200
    html = answer.json()["html"]
    assert "<b>Spring</b> is here <i>now</i>" in html and "onclick" not in html
    assert '<img class="telegram-photo" src="https://example.com/spring.jpg"' in html
    assert '<span class="telegram-button" title="https://example.com/shop">Open &lt;the&gt; shop</span>' in html
    assert "Text: &lt;i&gt; is never closed" in html


@pytest.mark.django_db
def test_buttons_telegram_would_refuse_are_named_not_drawn(admin_client):
    html = admin_client.post(PREVIEW_URL, {"text": "hi", "buttons": '[{"text": "Go", "url": "ftp://x"}]'}).json()[
        "html"
    ]
    assert "telegram-button" not in html and "Buttons: button 1: the URL must start with https://" in html


@pytest.mark.django_db
def test_the_change_page_shows_the_saved_message_and_the_endpoint_needs_staff(admin_client, client):
    broadcast = BroadcastFactory(
        text="<u>Saved</u>", photo="AgACAgIAAxkBAAI", buttons=[{"text": "Go", "url": "tg://resolve?domain=x"}]
    )
    page = admin_client.get(reverse("admin:broadcast_broadcast_change", args=[broadcast.pk])).content.decode()
    assert '<div class="telegram-text"><u>Saved</u></div>' in page
    assert "Photo AgACAgIAAxkBAAI" in page and ">Go</span>" in page
    assert client.post(PREVIEW_URL, {"text": "x"}).status_code == 403
