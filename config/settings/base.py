"""Settings shared by every environment. Every knob comes from the environment (or `.env`)."""

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])

DJANGO_APPS = [
    "config.apps.BotdeskAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
]
LOCAL_APPS = [
    "apps.users",
    "apps.sessions",
    "apps.analytics",
    "apps.billing",
    "apps.broadcast",
    "apps.journey",
    "apps.bot",
    "apps.llm",
    "apps.demo",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

# Sessions, users and messages as Django's own, except for the Telegram webhook (config.middleware).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.PeopleSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "config.middleware.PeopleAuthenticationMiddleware",
    "config.middleware.PeopleMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the writer; IMMEDIATE takes the write lock up front, so two
    # writers queue on `timeout` instead of failing half-way with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    # Connections are reused from psycopg's pool: opening one per request costs the webhook's
    # durable INSERT several times over. Sized per process.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env.int("DB_POOL_MAX_SIZE", default=16),
        "timeout": 10,
    }
    # PostgreSQL restarts and fails over, and every pooled connection dies with it: the pool checks a
    # connection (an empty query, one round trip) before handing it out and replaces a dead one, rather
    # than fail the request that gets it. Django passes psycopg_pool's ConnectionPool.check_connection as
    # the pool's `check` when this is on (giving `check` in the pool options too would be an error).
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -----------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
if REDIS_URL:
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
# Without a broker every task runs in-process, so the same code path works with nothing else running.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 4 * 60
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A message a dead worker had taken is handed out again after this long; the inbox sweeper
# usually recovers such updates sooner.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    # A publisher gives up on an unreachable broker after one quick retry (callers fall back).
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# Publishing must not hold a webhook request for long when the broker is down: the update is
# already stored, and the sweeper enqueues it again later.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Payment updates (pre_checkout_query, which Telegram waits for at most 10 s, and messages carrying
# successful_payment) travel on a queue of their own, consumed by a worker of their own (README, "Running
# with PostgreSQL, Redis, a worker and beat"): they never wait behind chat. A worker started without -Q
# consumes both queues. PAYMENTS_QUEUE empty puts payments back in the one FIFO queue (for measuring only).
CELERY_TASK_DEFAULT_QUEUE = "celery"
PAYMENTS_QUEUE = env("PAYMENTS_QUEUE", default="payments")
CELERY_TASK_QUEUES = [Queue(name) for name in dict.fromkeys([CELERY_TASK_DEFAULT_QUEUE, PAYMENTS_QUEUE]) if name]
# Settling refunds Telegram did not confirm is money too: it does not wait behind chat either.
CELERY_TASK_ROUTES = {
    "apps.billing.tasks.settle_pending_refunds": {"queue": PAYMENTS_QUEUE or CELERY_TASK_DEFAULT_QUEUE},
    "apps.billing.tasks.lapse_subscriptions": {"queue": PAYMENTS_QUEUE or CELERY_TASK_DEFAULT_QUEUE},
    "apps.billing.tasks.reconcile_stars": {"queue": PAYMENTS_QUEUE or CELERY_TASK_DEFAULT_QUEUE},
}

# --- I18N, static ---------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
# Days (analytics, the dashboard, "today") and the nightly jobs' times are in this zone: the operator's own.
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
# The languages the bot speaks (catalogues in locale/<code>/LC_MESSAGES); a user chooses one with /language.
LANGUAGES = [("en", "English"), ("ru", "Русский")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Telegram's language_code (its part before "-") → the bot's language, for users who did not choose one.
BOT_LANGUAGE_BY_TELEGRAM_CODE = {"ru": "ru", "uk": "ru", "be": "ru", "kk": "ru", "en": "en"}
# Everyone else's.
BOT_DEFAULT_LANGUAGE = "en"
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REST_FRAMEWORK = {
    # Tokens are issued to staff in the admin; staff browsing the API use their admin session.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Staff, and the view permissions of what each endpoint reads (the group "Analyst" holds them all).
    "DEFAULT_PERMISSION_CLASSES": ["apps.analytics.permissions.ViewPermissionsRequired"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["config.api.ExactJSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env("API_THROTTLE_RATE", default="600/min")},
    # ?format=csv is the events export, not a renderer choice.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Botdesk API",
    "DESCRIPTION": "Usage, costs, billing and product analytics of the bot, for staff and analysts.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its UI are for staff, like the API itself.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAdminUser"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Telegram -------------------------------------------------------------------------------
# python-telegram-bot's durations (retry_after, …) as timedelta now, as its next major version has them.
os.environ.setdefault("PTB_TIMEDELTA", "1")
TELEGRAM_BOT_TOKEN = env("TELEGRAM_BOT_TOKEN", default="")
TELEGRAM_WEBHOOK_SECRET = env("TELEGRAM_WEBHOOK_SECRET", default="")
TELEGRAM_API_BASE_URL = env("TELEGRAM_API_BASE_URL", default="")
TELEGRAM_WEBHOOK_MAX_BODY = 1024 * 1024
# What the domain apps (refunds, broadcasts) reach Telegram through: the bot's one outbound gateway.
TELEGRAM_GATEWAY = "apps.bot.gateway"
# An update stored but not yet processed after this long is enqueued again by the sweeper.
INBOX_PENDING_GRACE = timedelta(seconds=env.int("INBOX_PENDING_GRACE_SECONDS", default=60))
# An update claimed by a worker that has not finished after this long is taken as lost; longer
# than CELERY_TASK_TIME_LIMIT, so the worker that claimed it has certainly given up.
INBOX_STALE_AFTER = timedelta(seconds=env.int("INBOX_STALE_AFTER_SECONDS", default=10 * 60))
INBOX_MAX_ATTEMPTS = env.int("INBOX_MAX_ATTEMPTS", default=3)
INBOX_KEEP_PROCESSED = timedelta(days=7)
# A failed update keeps what the user wrote (for staff's replay) this long, then only its error.
INBOX_FAILED_RETENTION_DAYS = env.int("INBOX_FAILED_RETENTION_DAYS", default=30)

# --- LLM ------------------------------------------------------------------------------------
OPENAI_API_KEY = env("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env("OPENAI_BASE_URL", default="")
OPENAI_MODEL = env("OPENAI_MODEL", default="gpt-4o-mini")
# Names the provider on every request (and picks its prices); derived from OPENAI_BASE_URL if unset.
LLM_PROVIDER = env("LLM_PROVIDER", default="")
LLM_RATE_LIMIT = env.int("LLM_RATE_LIMIT", default=10)
LLM_TIMEOUT = env.float("LLM_TIMEOUT", default=60.0)
LLM_MAX_RETRIES = env.int("LLM_MAX_RETRIES", default=2)
LLM_RETRY_BASE_DELAY = env.float("LLM_RETRY_BASE_DELAY", default=1.0)
# Chat answers stream: shown as they are written (sendMessageDraft; where drafts are refused, one message
# edited in place at most once a second), at most STREAM_DRAFTS_PER_SECOND drafts a second per answer.
LLM_STREAMING = env.bool("LLM_STREAMING", default=True)
STREAM_DRAFTS_PER_SECOND = env.float("STREAM_DRAFTS_PER_SECOND", default=4.0)
# Voice notes and audio: transcribed by this model of the same provider, refused when longer than this.
LLM_TRANSCRIBE_MODEL = env("LLM_TRANSCRIBE_MODEL", default="whisper-1")
VOICE_MAX_SECONDS = env.int("VOICE_MAX_SECONDS", default=300)
# Turns of the active session sent with each message; the stored history is kept whole.
LLM_HISTORY_TURNS = env.int("LLM_HISTORY_TURNS", default=20)
STORE_PROMPTS = env.bool("STORE_PROMPTS", default=False)
# The journey stage is read again when a session completes and every N user messages (0: only then).
JOURNEY_ANALYSIS_EVERY = env.int("JOURNEY_ANALYSIS_EVERY", default=10)

# --- Billing --------------------------------------------------------------------------------
BILLING_UNIT = env("BILLING_UNIT", default="credits")
BILLING_TRIAL_CREDITS = Decimal(env.str("BILLING_TRIAL_CREDITS", default="20"))
# Free mode: nobody is charged (admins never are).
BILLING_FREE_MODE = env.bool("BILLING_FREE_MODE", default=False)
# What a credit is worth: credits per USD. A plan with a markup charges provider cost × markup × this.
BILLING_CREDITS_PER_USD = Decimal(env.str("BILLING_CREDITS_PER_USD", default="100"))
# A model without a price plan of its own is charged its provider cost × this, never less than the minimum.
BILLING_DEFAULT_MARKUP = Decimal(env.str("BILLING_DEFAULT_MARKUP", default="3"))
BILLING_MINIMUM_CHARGE = Decimal(env.str("BILLING_MINIMUM_CHARGE", default="0.01"))
if BILLING_DEFAULT_MARKUP < 1:
    raise ImproperlyConfigured(
        f"BILLING_DEFAULT_MARKUP={BILLING_DEFAULT_MARKUP} would charge every model below its provider cost; "
        "keep it at 1 or more and give a deliberate discount a price plan of its own (admin: Price plans)."
    )
# Stars paid are cash revenue at this rate; what a user paid per credit values what they spend (earned).
STARS_USD_RATE = Decimal(env.str("STARS_USD_RATE", default="0.013"))
# A refund: refundStarPayment unanswered after TELEGRAM_REFUND_TIMEOUT seconds leaves it pending (credits
# held back) until Telegram's own transactions say; one they still do not show after BILLING_REFUND_GRACE
# is undone (credits back).
TELEGRAM_REFUND_TIMEOUT = env.float("TELEGRAM_REFUND_TIMEOUT", default=15.0)
BILLING_REFUND_GRACE = timedelta(seconds=env.int("BILLING_REFUND_GRACE_SECONDS", default=600))
# A refund after this share or more of the payment's credits was consumed flags the user (refund abuse);
# with REFUND_ABUSE_BLOCKS_PURCHASES a flagged user cannot buy again.
REFUND_ABUSE_SHARE = Decimal(env.str("REFUND_ABUSE_SHARE", default="0.5"))
REFUND_ABUSE_BLOCKS_PURCHASES = env.bool("REFUND_ABUSE_BLOCKS_PURCHASES", default=False)
# The daily reconciliation compares Telegram's Stars ledger (getStarTransactions) with our payments this many
# days back.
STARS_RECONCILE_DAYS = env.int("STARS_RECONCILE_DAYS", default=30)
# Removed: a second worth of a credit made a 1.5x markup read as a loss. Still set: refuse to start.
if "BILLING_USD_PER_CREDIT" in os.environ:
    raise ImproperlyConfigured(
        "BILLING_USD_PER_CREDIT was removed: set what a credit is worth with BILLING_CREDITS_PER_USD "
        "(credits per USD, 1 / BILLING_USD_PER_CREDIT); revenue is valued at what users paid "
        "(README, Revenue and margin). Remove BILLING_USD_PER_CREDIT from the environment."
    )
DATABASE_BUDGET_BYTES = env.int("DATABASE_BUDGET_BYTES", default=1024**3)
# A lapsed subscription's unused credits: kept (off), or taken back at the period's end (on) by the beat job.
SUBSCRIPTION_CREDITS_EXPIRE = env.bool("SUBSCRIPTION_CREDITS_EXPIRE", default=False)
# Where this site is reached from outside (https://bot.example.com): tracked links (/go/<slug>) the bot
# sends start with it. Unset: the bot sends no tracked links.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="").rstrip("/")

# --- Product --------------------------------------------------------------------------------
ANALYTICS_ENABLED = env.bool("ANALYTICS_ENABLED", default=True)
# Event properties replaced by an HMAC before storage (on top of phone, email, address, full name).
ANALYTICS_SENSITIVE_PROPERTIES = env.list("ANALYTICS_SENSITIVE_PROPERTIES", default=[])
LOG_RETENTION_DAYS = env.int("LOG_RETENTION_DAYS", default=30)
ANALYTICS_RETENTION_DAYS = env.int("ANALYTICS_RETENTION_DAYS", default=365)
ACTIVITY_ARCHIVE_DAYS = env.int("ACTIVITY_ARCHIVE_DAYS", default=90)
SESSION_HISTORY_RETENTION_DAYS = env.int("SESSION_HISTORY_RETENTION_DAYS", default=180)
# A contact whose profile is older than 7 days queues a background refresh (once per user a day).
PROFILE_REFRESH_ON_CONTACT = env.bool("PROFILE_REFRESH_ON_CONTACT", default=True)
# Broadcasts: messages per second for all workers together (Telegram's limit is about 30), sender
# threads per running broadcast, and the paid mode (allow_paid_broadcast) that Telegram lets go to 1000/s.
BROADCAST_RATE = env.int("BROADCAST_RATE", default=30)
BROADCAST_CONCURRENCY = env.int("BROADCAST_CONCURRENCY", default=8)
BROADCAST_PAID_RATE = env.int("BROADCAST_PAID_RATE", default=1000)
BROADCAST_PAID_CONCURRENCY = env.int("BROADCAST_PAID_CONCURRENCY", default=64)
BROADCAST_MAX_ATTEMPTS = env.int("BROADCAST_MAX_ATTEMPTS", default=5)
BROADCAST_RETRY_BASE_DELAY = env.float("BROADCAST_RETRY_BASE_DELAY", default=5.0)
# A claim older than this belongs to a dead sender (longer than any send can take: 5 + 15 + 15 s of
# timeouts); a runner silent for this long is taken over; one task sends for this long, then hands over.
BROADCAST_CLAIM_TIMEOUT = env.int("BROADCAST_CLAIM_TIMEOUT", default=60)
BROADCAST_STALLED_AFTER = env.int("BROADCAST_STALLED_AFTER", default=60)
BROADCAST_SLICE_SECONDS = env.int("BROADCAST_SLICE_SECONDS", default=120)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # httpx logs every Bot API request at INFO, token in the URL included.
        "httpx": {"level": "WARNING"},
    },
}
