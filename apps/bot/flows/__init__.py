"""The bot's use cases that cross domains: plain synchronous functions, no python-telegram-bot types.
Handlers parse an update and call one of these; each coordinates the domain apps for one thing a user
does (a chat turn, a contact, finishing a session) or the bot does for them (a profile refresh)."""
