"""Test settings: the same code paths, made fast and isolated."""

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES, env

DEBUG = False
SECRET_KEY = "test-only-not-a-secret"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tasks run in-process unless a test starts a real worker and says otherwise.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)

TELEGRAM_BOT_TOKEN = "123456:TEST-token"
# No key: the offline model answers unless a test points the real client at the fake server (a worker
# process started by a test is pointed there by BOTDESK_TEST_OPENAI_URL; a developer's own key is ignored).
OPENAI_BASE_URL = env("BOTDESK_TEST_OPENAI_URL", default="")
OPENAI_API_KEY = "test-key" if OPENAI_BASE_URL else ""
LLM_TIMEOUT = 2.0
LLM_RETRY_BASE_DELAY = 0.01
LLM_RATE_LIMIT = 1000
# Journey analysis every N messages is switched on by the tests about it.
JOURNEY_ANALYSIS_EVERY = 0
PROFILE_REFRESH_ON_CONTACT = False
TELEGRAM_WEBHOOK_SECRET = "test-webhook-secret"

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not ":memory:": the bot's handlers reach the database from their own thread.
    # Its own name per checkout or concurrent run: BOTDESK_TEST_SQLITE_NAME.
    DATABASES["default"]["TEST"] = {
        "NAME": env("BOTDESK_TEST_SQLITE_NAME", default=str(BASE_DIR / ".pytest-db.sqlite3"))
    }
