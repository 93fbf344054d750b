from django.apps import AppConfig


class SessionsConfig(AppConfig):
    name = "apps.sessions"
    # "sessions" is django.contrib.sessions' label.
    label = "bot_sessions"
    verbose_name = "Conversation sessions"
