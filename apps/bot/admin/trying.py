"""Try the bot: staff chat with the bot from the admin as a test user, through the whole real path and the
Bot API stand-in (apps.bot.trying). The conversation so far lives in the staff member's session."""

from dataclasses import asdict
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse

from apps.bot.trying import SOURCE, TEST_USER_IDS, Chat, Seen, TestUser
from apps.users.models import TelegramUser

SESSION_KEY = "try_the_bot"
_KEPT = 200  # entries of the conversation shown (and kept in the session)


class TryForm(forms.Form):
    user_id = forms.IntegerField(
        label="Test user id",
        min_value=TEST_USER_IDS.start,
        max_value=TEST_USER_IDS.stop - 1,
        help_text="From 2**52 on: Telegram's ids have at most 52 significant bits, so no real user has one.",
    )
    first_name = forms.CharField(max_length=64)
    language = forms.CharField(label="language_code", max_length=10, required=False)
    text = forms.CharField(
        label="Message", max_length=4096, required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 70})
    )


def default_user(request: HttpRequest) -> TestUser:
    """Each staff member their own test user."""
    staff = request.user
    return TestUser(
        user_id=TEST_USER_IDS.start + 1000 + staff.pk,
        first_name=(staff.first_name or staff.get_username())[:64],
        language="ru",
    )


def try_the_bot(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    state = request.session.get(SESSION_KEY) or {}
    user = TestUser(**state["user"]) if "user" in state else default_user(request)
    seen = [Seen.from_dict(entry) for entry in state.get("seen", [])]
    keyboard = state.get("keyboard")
    if request.method == "POST":
        form = TryForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            chosen = TestUser(user_id=data["user_id"], first_name=data["first_name"], language=data["language"])
            if chosen.user_id != user.user_id or "clear" in request.POST:
                seen, keyboard = [], None
            chat = Chat(chosen, keyboard=keyboard)
            try:
                if "press" in request.POST:
                    seen += chat.press(_number(request.POST["press"]))
                elif "clear" not in request.POST and data["text"].strip():
                    seen += chat.say(data["text"])
            except ValueError as error:
                messages.error(request, str(error))
            request.session[SESSION_KEY] = {
                "user": asdict(chosen),
                "seen": [entry.to_dict() for entry in seen[-_KEPT:]],
                "keyboard": chat.keyboard,
            }
            return HttpResponseRedirect(request.path)
    else:
        form = TryForm(initial=asdict(user))
    chat = Chat(user, keyboard=keyboard)
    context = {
        **context,
        "title": "Try the bot",
        "form": form,
        "test_user": user,
        "known": TelegramUser.objects.filter(pk=user.user_id).first(),
        "source": SOURCE,
        "conversation": _shown(seen),
        "buttons": list(enumerate(chat.buttons, 1)),
    }
    return TemplateResponse(request, "admin/try_the_bot.html", context)


def _number(value: str) -> int:
    return int(value) if value.isdigit() else 0


def _shown(seen: list[Seen]) -> list[dict[str, Any]]:
    """What a chat window shows: drafts folded into a count before the message they became, no chat actions."""
    shown: list[dict[str, Any]] = []
    drafts = 0
    for entry in seen:
        if entry.kind == "draft":
            drafts += 1
            continue
        if entry.kind == "action" or (entry.kind == "notice" and not entry.text):
            continue
        shown.append({**entry.to_dict(), "drafts": drafts})
        drafts = 0
    return shown
