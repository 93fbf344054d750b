"""Production settings plus the two baseline views, served by the same gunicorn as the webhook."""

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
SECURE_SSL_REDIRECT = False  # wrk speaks plain HTTP on loopback
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
