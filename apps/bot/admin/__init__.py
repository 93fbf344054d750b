"""The bot's admin pages: the inbox, the user page that gathers every domain's records of a user, erasing a user
and the receipts erases leave, and the bot's texts staff can edit."""

from . import erase, inbox, texts, users  # noqa: F401  registered on import
