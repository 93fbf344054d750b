"""The bot's texts as staff edit them: every key (apps.bot.static_text) in every language the bot speaks, the
code's text beside what staff wrote (BotText, read by the bot through apps.bot.overrides), and what an
override must keep to work: the `{placeholders}` the code fills in."""

import string
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation

from . import overrides, static_text
from .models import BotText

# What Telegram takes at most: a message; a command's description in the menu; an invoice's description.
MAX_LENGTH = 4096
MAX_LENGTHS = {
    "INVOICE_DESCRIPTION": 255,
    **{f"COMMAND_DESCRIPTIONS.{name}": 256 for name in static_text.COMMAND_DESCRIPTIONS},
}


def text_keys() -> list[str]:
    return list(static_text.catalogue())


def text_languages() -> list[str]:
    return [code for code, _ in settings.LANGUAGES]


def default_text(key: str, language: str) -> str:
    """The code's text in that language (its translation; the English one where it has none)."""
    with translation.override(language):
        return static_text.catalogue()[key].default()


def placeholders(key: str) -> list[str]:
    """The fields the code fills in, as the text writes them: ["{name}"]."""
    return _fields(str.__str__(static_text.catalogue()[key]))


def bot_text_matches(bot_text: BotText, term: str) -> bool:
    """Every word of `term`, in any case, is in the text's key, default or override. Read here, not by the
    database: SQLite's LIKE ignores the case of ASCII letters only."""
    seen = " ".join([bot_text.key, default_text(bot_text.key, bot_text.language), bot_text.text]).casefold()
    return all(word in seen for word in term.casefold().split())


def override_clean(key: str, language: str, text: str) -> str:
    """The override as the bot will send it: line breaks as Telegram's, no blank lines around it; empty when
    it is the default itself (so the text follows the code's). Raises ValidationError when the bot could
    not send it (a placeholder lost or unknown, a stray brace, too long)."""
    text = text.replace("\r\n", "\n").strip()
    if not text or text == default_text(key, language).strip():
        return ""
    needed = placeholders(key)
    if not needed and ("{" in text or "}" in text):
        raise ValidationError("This text has no placeholders: remove the braces { }.")
    try:
        used = _fields(text)
    except ValueError:
        raise ValidationError(
            "A brace is not closed or stands alone. Placeholders are written {like_this}; to show a brace "
            "itself, write it twice: {{ or }}."
        ) from None
    unknown = [field for field in used if field not in needed]
    if unknown:
        raise ValidationError(f"Unknown placeholder {_listed(unknown)}: this text can use {_listed(needed)} only.")
    missing = [field for field in needed if field not in used]
    if missing:
        raise ValidationError(
            f"The placeholder {_listed(missing)} is missing: keep it, the bot puts its value there."
            if len(missing) == 1
            else f"The placeholders {_listed(missing)} are missing: keep them, the bot puts their values there."
        )
    limit = MAX_LENGTHS.get(key, MAX_LENGTH)
    if len(text) > limit:
        raise ValidationError(f"At most {limit} characters (this one has {len(text)}): Telegram refuses longer.")
    return text


def bot_texts_sync() -> None:
    """A row for every key and language, so the admin lists each text (an empty override: the default)."""
    existing = set(BotText.objects.values_list("key", "language"))
    BotText.objects.bulk_create(
        [
            BotText(key=key, language=language)
            for key in text_keys()
            for language in text_languages()
            if (key, language) not in existing
        ],
        ignore_conflicts=True,  # another staff member's page made them meanwhile
    )


@transaction.atomic
def bot_text_update(*, bot_text: BotText, text: str, updated_by: AbstractBaseUser | None) -> BotText:
    """Save what staff wrote (empty: back to the default); every process sends it from its next update."""
    bot_text.text = override_clean(bot_text.key, bot_text.language, text)
    bot_text.updated_at = timezone.now()
    bot_text.updated_by = updated_by
    bot_text.save(update_fields=["text", "updated_at", "updated_by"])
    transaction.on_commit(overrides.changed, robust=True)
    return bot_text


def _fields(template: str) -> list[str]:
    """A str.format template's replacement fields, each once, as written: "{name}", "{amount:>5}". Raises
    ValueError when it is not a template (a lone brace)."""
    found: list[str] = []
    for _literal, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        field = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if field not in found:
            found.append(field)
    return found


def _listed(fields: Iterable[str]) -> str:
    return ", ".join(fields)
