"""Session, authentication and messages middleware that the Telegram webhook skips.

They serve people in a browser (the admin, the dashboard). Telegram posts updates with a secret header
and reads no cookie: on the busiest endpoint they only cost CPU (the messages' cookie signer alone is a
tenth of a webhook request's). Everything else, security headers and redirects included, still runs.
"""

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware

MACHINE_PATHS = frozenset({"/telegram/webhook/"})


class _PeopleOnly:
    def __call__(self, request):
        if request.path_info in MACHINE_PATHS:
            return self.get_response(request)
        return super().__call__(request)


class PeopleSessionMiddleware(_PeopleOnly, SessionMiddleware):
    pass


class PeopleAuthenticationMiddleware(_PeopleOnly, AuthenticationMiddleware):
    pass


class PeopleMessageMiddleware(_PeopleOnly, MessageMiddleware):
    pass
