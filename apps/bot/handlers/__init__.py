from telegram import Update
from telegram.ext import Application, ChatMemberHandler, CommandHandler, TypeHandler

from . import contact, errors, membership, start

# Group -1 runs before every other handler: seed 004's ProfileUpdateMiddleware.
CONTACT_GROUP = -1


def register_handlers(application: Application) -> None:
    application.add_handler(TypeHandler(Update, contact.record_contact), group=CONTACT_GROUP)
    application.add_handler(CommandHandler("start", start.start))
    application.add_handler(ChatMemberHandler(membership.my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_error_handler(errors.on_error)
