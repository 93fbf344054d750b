"""Every text the bot sends, in English, translated through Django's machinery (locale/<language>/LC_MESSAGES).

Each is a `Text`: the English text itself (a str: it compares, hashes and serialises as English), read in
the language active when it is used by `str(text)`, `text.format(...)` or an f-string (the user's language,
for an update: apps.bot.language). `{placeholders}` are str.format fields and stay as they are in every
translation. Send and store `str(text)` or `text.format(...)`. `_` and `pgettext_lazy` are the names
makemessages extracts texts by."""

from functools import cache

from django.utils import translation

from . import overrides


class Text(str):
    """An English text, read in the active language: what staff wrote for that language in the admin
    (apps.bot.overrides), else its translation. Its key there is its name in this module (`key`)."""

    context: str | None

    def __new__(cls, message: str, context: str | None = None) -> "Text":
        text = super().__new__(cls, message)
        text.context = context
        return text

    @property
    def key(self) -> str:
        """WELCOME_NEW; JOURNEY_STAGES.ordeal for an entry of a dict of texts."""
        return _keys().get(id(self), "")

    def __str__(self) -> str:
        override = overrides.override(self.key, translation.get_language())
        return self.default() if override is None else override

    def default(self) -> str:
        """The code's text in the active language, whatever staff wrote."""
        message = str.__str__(self)
        if self.context is None:
            return translation.gettext(message)
        return translation.pgettext(self.context, message)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def format(self, *args: object, **kwargs: object) -> str:
        return str(self).format(*args, **kwargs)


def _(message: str) -> Text:
    return Text(message)


def pgettext_lazy(context: str, message: str) -> Text:
    return Text(message, context)


def catalogue() -> dict[str, Text]:
    """Every text of this module by its key (the model's instructions, a plain str, are none of them)."""
    found: dict[str, Text] = {}
    for name, value in list(globals().items()):
        if isinstance(value, Text):
            found[name] = value
        elif isinstance(value, dict):
            found.update({f"{name}.{entry}": text for entry, text in value.items() if isinstance(text, Text)})
    return found


@cache
def _keys() -> dict[int, str]:
    return {id(text): key for key, text in catalogue().items()}


WELCOME_NEW = _(
    "Hello, {name}! I am your AI companion. Write to me about anything that is on your mind, and I will answer."
)
WELCOME_BACK = _("Welcome back, {name}! Write to me whenever you are ready.")
NEW_SESSION_CONFIRM = _("You have a conversation in progress. Finish it and start a new one?")
NEW_SESSION_YES = pgettext_lazy("button", "Yes, start anew")
NEW_SESSION_NO = pgettext_lazy("button", "No, continue")
NEW_SESSION_STARTED = _("A new conversation has started. What is on your mind?")
NEW_SESSION_KEPT = _("Good, let us continue where we were.")
BUY_BUTTON = pgettext_lazy("button", "Top up")
CHOOSE_PACKAGE = _("Choose a package. You pay with Telegram Stars.")
PACKAGE_OFFER = pgettext_lazy("button", "{title}: {credits} for {stars} ⭐")
INVOICE_DESCRIPTION = _("{credits} for your balance")
NO_PACKAGES = _("Top-ups are not available right now. Please try again later.")
PAYMENT_THANKS = _("Thank you! {credits} {unit} added. Your balance: {balance} {unit}.")
BALANCE = _("Your balance: {balance} {unit}. Latest operations:")
BALANCE_EMPTY = _("Your balance: {balance} {unit}. No operations yet.")
# /balance's lines, an operation as the user knows it each (apps.billing.selectors.user_statement):
# "Today at 14:05 — top-up for 50 ⭐: +100 credits", "Yesterday — 12 answers: −3.4 credits".
STATEMENT_LINE = _("{when} — {what}: {amount}")
STATEMENT_DAY_AT = _("{day} at {time}")
TODAY = pgettext_lazy("day", "today")
YESTERDAY = pgettext_lazy("day", "yesterday")
STATEMENT_TOPUP = pgettext_lazy("operation", "top-up")
STATEMENT_TOPUP_STARS = pgettext_lazy("operation", "top-up for {stars} ⭐")
STATEMENT_REFUND = pgettext_lazy("operation", "payment refunded")
STATEMENT_REFUND_STARS = pgettext_lazy("operation", "refund of {stars} ⭐")
STATEMENT_REFUND_UNDONE = pgettext_lazy("operation", "refund cancelled")
STATEMENT_BONUS = pgettext_lazy("operation", "bonus")
STATEMENT_ADJUSTMENT = pgettext_lazy("operation", "balance adjustment")
STATEMENT_EXPIRY = pgettext_lazy("operation", "unused subscription credits expired")
# Subscriptions and paid streams (/buy, /subscription, /balance).
CHOOSE_OFFER = _("Choose a package, a subscription or a course. You pay with Telegram Stars.")
PLAN_OFFER = pgettext_lazy("button", "{title}: {credits} every 30 days for {stars} ⭐")
STREAM_OFFER = pgettext_lazy("button", "{title} for {stars} ⭐")
STREAM_ABOUT = pgettext_lazy("button", "About “{title}”")
PLAN_INVOICE_DESCRIPTION = _("{credits} every 30 days, renewed automatically. Cancel any time with /subscription.")
STREAM_INVOICE_DESCRIPTION = _("Access to “{title}”")
PLAN_LINK = _("Subscription “{title}”: {credits} every 30 days for {stars} ⭐. Tap the button to subscribe.")
PLAN_LINK_BUTTON = pgettext_lazy("button", "Subscribe for {stars} ⭐")
ALREADY_SUBSCRIBED = _("You already have the subscription “{title}” until {until}. See /subscription.")
SUBSCRIPTION_THANKS = _(
    "Thank you! Your subscription “{title}” is active until {until}: {credits} {unit} added. "
    "Your balance: {balance} {unit}."
)
STREAM_THANKS = _("Thank you! “{title}” is yours.")
STREAM_THANKS_LINK = _("Thank you! “{title}” is yours. Here is your access: {link}")
BALANCE_SUBSCRIPTION = _("Subscription “{title}”: until {until}, renews automatically.")
BALANCE_SUBSCRIPTION_CANCELED = _("Subscription “{title}”: until {until}, cancelled (will not renew).")
SUBSCRIPTION_NONE = _("You have no subscription. Plans are in /buy.")
SUBSCRIPTION_ACTIVE = _(
    "Your subscription “{title}”: {credits} every 30 days for {stars} ⭐. Paid until {until}; it renews automatically."
)
SUBSCRIPTION_CANCELED = _(
    "Your subscription “{title}” is cancelled: it stays active until {until} and will not renew. You can "
    "turn renewal back on until then."
)
SUBSCRIPTION_CANCEL_BUTTON = pgettext_lazy("button", "Cancel subscription")
SUBSCRIPTION_CANCEL_CONFIRM = _(
    "Cancel the subscription “{title}”? It stays active until {until}, then it will not renew."
)
SUBSCRIPTION_CANCEL_YES = pgettext_lazy("button", "Yes, cancel")
SUBSCRIPTION_CANCEL_NO = pgettext_lazy("button", "No, keep it")
SUBSCRIPTION_RENEW_BUTTON = pgettext_lazy("button", "Turn renewal back on")
SUBSCRIPTION_RENEWED = _("Renewal is back on: your subscription “{title}” renews on {until}.")
SUBSCRIPTION_NOT_CHANGED = _("Telegram did not accept the change. Please try again later.")
SUBSCRIPTION_OVER = _("This subscription is over. Plans are in /buy.")


def answers_charged(count: int) -> str:
    """12 answers, 12 ответов: a plural, read with ngettext."""
    return translation.ngettext("{count} answer", "{count} answers", count).format(count=count)


def voice_messages_transcribed(count: int) -> str:
    """Voice messages heard (and charged for) that got no answer."""
    return translation.ngettext(
        "{count} voice message transcribed", "{count} voice messages transcribed", count
    ).format(count=count)


JOURNEY_UNKNOWN = _("Your journey has not been read yet: talk with me a little, and finish a conversation with /new.")
JOURNEY_STAGE = _("You are at stage {number} of {total} of the hero's journey: {stage}.")
# apps.journey.models.JourneyStage, as the user reads it.
JOURNEY_STAGES = {
    "ordinary_world": pgettext_lazy("journey stage", "The ordinary world"),
    "call_to_adventure": pgettext_lazy("journey stage", "The call to adventure"),
    "refusal_of_the_call": pgettext_lazy("journey stage", "Refusal of the call"),
    "meeting_the_mentor": pgettext_lazy("journey stage", "Meeting the mentor"),
    "crossing_the_threshold": pgettext_lazy("journey stage", "Crossing the threshold"),
    "tests_allies_enemies": pgettext_lazy("journey stage", "Tests, allies, enemies"),
    "approach": pgettext_lazy("journey stage", "Approach to the inmost cave"),
    "ordeal": pgettext_lazy("journey stage", "The ordeal"),
    "reward": pgettext_lazy("journey stage", "The reward"),
    "the_road_back": pgettext_lazy("journey stage", "The road back"),
    "resurrection": pgettext_lazy("journey stage", "Resurrection"),
    "return_with_the_elixir": pgettext_lazy("journey stage", "Return with the elixir"),
}
UNKNOWN_COMMAND = _("I do not know that command. Just write to me in your own words, or see /help for what I can do.")
HELP = _(
    "I am your AI companion: write to me about anything on your mind, in text or in a voice message, and I will "
    "answer. Answers are paid for with credits from your balance.\n\n"
    "Commands:\n{commands}\n\n"
    "Your balance: {balance}. To top up, press the button below or send /buy; you pay with Telegram Stars."
)
STATS = _(
    "Today ({date}): {active_users} active users, {new_users} new, {messages} messages.\n"
    "LLM: {tokens} tokens, cost {cost} (background {background}).\n"
    "Earned revenue (credits spent) {earned}, margin {margin}. Cash paid {cash}."
)
PROGRESS_SAVED = _(
    "Temporary technical problems on our side. Your progress is saved: write again in a little while "
    "and we will continue where we stopped."
)
TOPUP_NEEDED = _(
    "Your balance is {balance} {unit}; an answer may cost up to {needed} {unit}. "
    "Top up to continue, and I will answer your next message."
)
VOICE_TOO_LONG = _(
    "That voice message is longer than I can listen to: up to {limit} minutes, please. "
    "Send a shorter one, or write to me."
)
VOICE_NOT_HEARD = _("I could not make out any words in that voice message. Could you say it again, or write to me?")

LANGUAGE_CHOOSE = _("Choose the language I speak to you in:")
LANGUAGE_SET = _("Done: from now on I speak English with you.")

# The model's instructions: appended to the persona's system prompt, in English, for a user whose language
# is not the default one (an English-speaking model mirrors the user's language by itself).
ANSWER_IN_LANGUAGE = "The user's language is {language}: answer in {language}, unless they write in another language."

# The commands shown in Telegram's menu (setMyCommands), per language.
COMMAND_DESCRIPTIONS = {
    "start": pgettext_lazy("command", "Start talking"),
    "new": pgettext_lazy("command", "Start a new conversation"),
    "balance": pgettext_lazy("command", "Your balance and latest operations"),
    "buy": pgettext_lazy("command", "Top up the balance"),
    "subscription": pgettext_lazy("command", "Your subscription: see or cancel it"),
    "journey": pgettext_lazy("command", "Where you are on the hero's journey"),
    "language": pgettext_lazy("command", "Choose the language"),
    "mydata": pgettext_lazy("command", "Download your data"),
    "forget": pgettext_lazy("command", "Erase everything I know about you"),
    "help": pgettext_lazy("command", "What I can do, and your balance"),
}

# /mydata: the caption of the JSON file of everything stored about the user.
EXPORT_CAPTION = _("Here is everything I keep about you: your profile, conversations, balance, payments and events.")

# /forget: what erasing removes and keeps, asked before anything is erased; a live subscription renews whatever
# the bot forgets; the answers to the two buttons.
FORGET_ASK = _(
    "Erase everything I know about you?\n\n"
    "Erased: your name and profile, our conversations, what you did here and what I concluded about you.\n"
    "Kept: your payments and the record of your balance, as accounting requires, under an anonymous number "
    "that leads back to no one.\n"
    "Your balance ({balance}) is lost with the rest. This cannot be undone."
)
FORGET_SUBSCRIPTION = _(
    "Your subscription “{title}” renews on {until}: erasing cancels it, so Telegram stops charging you for it."
)
FORGET_SUBSCRIPTION_NOT_CANCELED = _(
    "Telegram did not cancel your subscription, so nothing was erased. Please try again in a minute."
)
FORGET_ERASE_BUTTON = pgettext_lazy("button", "Erase everything")
FORGET_CANCEL_BUTTON = pgettext_lazy("button", "Cancel")
FORGET_DONE = _("Done: everything about you is erased. If you write again, you start as a new user.")
FORGET_KEPT = _("Nothing was erased.")
