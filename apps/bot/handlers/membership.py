from asgiref.sync import sync_to_async
from telegram import ChatMember, Update
from telegram.constants import ChatType

from apps.bot.context import BotContext
from apps.users.services import user_set_active

_GONE = {ChatMember.BANNED, ChatMember.LEFT}


async def my_chat_member(update: Update, context: BotContext) -> None:
    """In a private chat, "kicked" means the user blocked the bot; "member" that they came back."""
    change = update.my_chat_member
    if change.chat.type != ChatType.PRIVATE:
        return
    is_active = change.new_chat_member.status not in _GONE
    await sync_to_async(user_set_active)(user_id=change.from_user.id, is_active=is_active)
