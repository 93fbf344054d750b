from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    PreCheckoutQueryHandler,
    TypeHandler,
    filters,
)

from . import (
    admin,
    billing,
    chat,
    contact,
    errors,
    export,
    forget,
    help,
    journey,
    language,
    membership,
    start,
    subscription,
    voice,
)

# Group -1 runs before every other handler: seed 004's ProfileUpdateMiddleware.
CONTACT_GROUP = -1
# An edited message is recorded (the contact handler logs it) but not answered or charged again.
NEW_MESSAGES = filters.UpdateType.MESSAGE


def register_handlers(application: Application) -> None:
    application.add_handler(TypeHandler(Update, contact.record_contact), group=CONTACT_GROUP)
    for name, callback in [
        ("start", start.start),
        ("new", chat.new_session),
        ("buy", billing.buy),
        ("balance", billing.balance),
        ("subscription", subscription.subscription),
        ("journey", journey.journey),
        ("stats", admin.stats),
        ("language", language.choose_language),
        ("mydata", export.my_data),
        ("forget", forget.forget),
        ("help", help.help_command),
    ]:
        application.add_handler(CommandHandler(name, callback, filters=NEW_MESSAGES))
    # After every command's handler: in a group, only the first handler that takes an update runs.
    application.add_handler(
        MessageHandler(NEW_MESSAGES & filters.COMMAND & filters.ChatType.PRIVATE, help.unknown_command)
    )
    application.add_handler(CallbackQueryHandler(chat.new_session_answer, pattern=r"^session:new:"))
    application.add_handler(CallbackQueryHandler(billing.buy_choice, pattern=r"^buy:"))
    application.add_handler(CallbackQueryHandler(subscription.subscription_button, pattern=r"^subscription:"))
    application.add_handler(CallbackQueryHandler(language.language_chosen, pattern=r"^language:"))
    application.add_handler(CallbackQueryHandler(forget.forget_button, pattern=r"^forget:"))
    application.add_handler(PreCheckoutQueryHandler(billing.pre_checkout))
    application.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, billing.successful_payment))
    application.add_handler(MessageHandler(filters.StatusUpdate.REFUNDED_PAYMENT, billing.refunded_payment))
    application.add_handler(
        MessageHandler(NEW_MESSAGES & filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, chat.text_message)
    )
    application.add_handler(
        MessageHandler(NEW_MESSAGES & (filters.VOICE | filters.AUDIO) & filters.ChatType.PRIVATE, voice.voice_message)
    )
    application.add_handler(ChatMemberHandler(membership.my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_error_handler(errors.on_error)
