import re

from asgiref.sync import sync_to_async
from telegram import Update
from telegram.helpers import effective_message_type

from apps.bot.context import BotContext
from apps.bot.flows.contact import contact_record
from apps.bot.services import update_type
from apps.users.services import ContactActivity, TelegramIdentity

# Telegram's own rule for deep-link payloads.
_DEEP_LINK_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")


def start_payload(update: Update) -> str:
    """The deep-link payload of a `/start <payload>` message, or "" (also for malformed ones)."""
    text = update.message.text if update.message else None
    if not text:
        return ""
    command, _, argument = text.partition(" ")
    if command.split("@")[0] != "/start":
        return ""
    argument = argument.strip()
    return argument if _DEEP_LINK_PAYLOAD.fullmatch(argument) else ""


def describe(update: Update) -> ContactActivity:
    """What the user did, for the activity log; never the text they wrote."""
    kind = update_type(update.to_dict())
    details: dict[str, object] = {"update_id": update.update_id}
    activity_type = kind
    message = update.effective_message
    if message is not None and kind in ("message", "edited_message"):
        content = effective_message_type(message) or "other"
        details["content"] = content
        if content == "text" and message.text.startswith("/"):
            details["command"] = message.text.split()[0][1:].split("@")[0][:32]
            if kind == "message":  # an edited command is an edit: it runs nothing
                activity_type = "command"
    chat = update.effective_chat
    return ContactActivity(chat_id=chat.id if chat else None, activity_type=activity_type, details=details)


async def record_contact(update: Update, context: BotContext) -> None:
    user = update.effective_user
    if user is None:
        return
    identity = TelegramIdentity(
        id=user.id,
        first_name=user.first_name or "",
        last_name=user.last_name or "",
        username=user.username or "",
        language_code=user.language_code or "",
        is_premium=bool(user.is_premium),
    )
    context.contact = await sync_to_async(contact_record)(
        identity=identity, activity=describe(update), source=start_payload(update)
    )
