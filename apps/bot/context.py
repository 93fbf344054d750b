from telegram.ext import Application, CallbackContext, ExtBot

from apps.users.services import Contact


class BotContext(CallbackContext[ExtBot, dict, dict, dict]):
    """The context handlers get: PTB's, plus the contact recorded for this update."""

    def __init__(self, application: Application, chat_id: int | None = None, user_id: int | None = None):
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.contact: Contact | None = None
