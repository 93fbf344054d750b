"""The bot's admin pages: the inbox, and the user page that gathers every domain's records of a user."""

from . import inbox, users  # noqa: F401  registered on import
