"""Settings of core4site, read from the environment (and only here).

Two ways to run, one code path:

* embedded default: no ``DATABASE_URL`` → SQLite file in ``var/``; no ``REDIS_URL`` →
  a Redis server owned by the product on a unix socket in ``var/`` (see
  ``core4site.embedded``);
* production: ``DATABASE_URL=postgres://…`` and ``REDIS_URL=redis://…``.

Every variable is documented in README.md ("Settings").
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


#: What a numeric setting may be: a whole number, or a decimal number (``1.5``, ``.5``, ``2e-3``)
_NUMBERS = {
    int: re.compile(r"\s*[+-]?\d+\s*"),
    float: re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*"),
}


class _Env(environ.Env):
    """``environ.Env`` whose numbers name the setting when they are not numbers: its own
    ``float``/``int`` strip the value down to its digits first, so ``abc`` failed with
    ``could not convert string to float: ''`` (saying neither which setting nor what) and
    ``1.5abc`` was read as 1.5; here a value must be a number as written."""

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        pattern = _NUMBERS.get(cast)  # type: ignore[call-overload]
        raw = self.ENVIRON.get(var)
        if pattern is None or raw is None or raw.startswith("$"):  # "$OTHER": a proxy
            return super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        if not pattern.fullmatch(raw):
            kind = "a whole number" if cast is int else "a number"
            raise ImproperlyConfigured(f"{var} must be {kind}, not [{raw[:100]}]")
        return cast(raw.strip())


env = _Env()

#: Where the embedded default keeps its state (database, secret, redis socket, logs).
VAR_DIR = Path(env.str("CORE4_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _development_secret() -> str:
    """A secret generated once per checkout and kept in ``var/`` (never committed)."""
    path = VAR_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        value = secrets.token_urlsafe(64)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(value)
        return value
    except OSError:  # pragma: no cover - unreadable var/: fail loudly below
        raise


SECRET_KEY = env.str("CORE4_SECRET_KEY", default="") or _development_secret()
DEBUG = env.bool("CORE4_DEBUG", default=False)
ALLOWED_HOSTS = env.list("CORE4_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

#: Served over TLS (directly or behind a proxy that sets X-Forwarded-Proto): secure cookies.
CORE4_HTTPS = env.bool("CORE4_HTTPS", default=False)
if CORE4_HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("CORE4_HSTS_SECONDS", default=3600)
SESSION_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = env.list("CORE4_CSRF_TRUSTED_ORIGINS", default=[])
#: Origins (scheme://host[:port]) whose pages may write with the token cookie and open the
#: event socket; empty = the server's own origin only (README "Cookies, CSRF and Origin").
CORE4_ALLOWED_ORIGINS = env.list("CORE4_ALLOWED_ORIGINS", default=[])

INSTALLED_APPS = [
    # runserver on daphne; not "daphne" itself, which imports its server into every process
    "core4site.devserver",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_tasks",  # the django.tasks backport (Django 5.2): checks, signals
    "accounts",
    "jobqueue",
    "events",
    "dashboard",
    "core4site.apps.Core4SiteConfig",
]

MIDDLEWARE = [
    "core4site.metrics.RequestMetrics",  # first: counts every response (README "Monitoring")
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.middleware.TokenRefreshMiddleware",
]

ROOT_URLCONF = "core4site.urls"
ASGI_APPLICATION = "core4site.asgi.application"
WSGI_APPLICATION = None

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

# --- database -------------------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="")
#: PostgreSQL: server-side parameter binding and prepared statements (psycopg prepares a
#: statement a connection ran twice). Off by default: a prepared pick may keep a generic plan
#: made while the queue was small, which sorts every runnable job once the queue has grown —
#: until the next ANALYZE (measured: 112 ms per pick at 100,000 jobs instead of 4.5 ms); so
#: when on, every execution is still planned for its parameters (``plan_cache_mode``), and
#: what remains is ~20 % on one-by-one enqueues. Never behind a pooler that does not keep
#: prepared statements (PgBouncer in transaction mode before 1.21).
CORE4_DB_PREPARE = env.bool("CORE4_DB_PREPARE", default=False)
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    if CORE4_DB_PREPARE and DATABASES["default"]["ENGINE"].endswith("postgresql"):
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options.setdefault("server_side_binding", True)
        options.setdefault("prepare_threshold", 2)
        options.setdefault("options", "-c plan_cache_mode=force_custom_plan")
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "core4site.sqlite3"),
            # Several processes (daphne, workers, CLI) share the file: wait for locks instead
            # of failing, and take the write lock at BEGIN so that transactions never
            # deadlock on lock upgrades.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
                ),
            },
        }
    }
DATABASES["default"].setdefault("CONN_MAX_AGE", 0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Test databases: a file per test process, like the product's, not Django's shared-cache
    # in-memory default, whose table locks fail concurrent threads at once ("database table
    # is locked") where the WAL file waits (busy_timeout) — the event hub reads in a thread.
    DATABASES["default"].setdefault("TEST", {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.Core4Backend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]
if env.bool("CORE4_FAST_PASSWORD_HASHER", default=False):
    # For test suites only: password hashing dominates their run time otherwise.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
WHITENOISE_USE_FINDERS = True
LOGIN_URL = "/admin/login/"

# --- channel layer --------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
#: The embedded Redis server's socket (used when REDIS_URL is unset).
CORE4_EMBEDDED_REDIS_SOCKET = VAR_DIR / "redis.sock"
#: The embedded Redis stops this many seconds after the last process using it exited.
CORE4_EMBEDDED_REDIS_LINGER = env.float("CORE4_EMBEDDED_REDIS_LINGER", default=5.0)
CORE4_REDIS_ADDRESS = REDIS_URL or f"unix://{CORE4_EMBEDDED_REDIS_SOCKET}"
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # socket_timeout=None: redis-py 8 otherwise times out idle blocking reads and
            # channels-redis 4.3.0 crashes the consumer every 5 s (channels_redis#422).
            "hosts": [{"address": CORE4_REDIS_ADDRESS, "socket_timeout": None}],
            "capacity": env.int("CORE4_LAYER_CAPACITY", default=10_000),
            "expiry": env.int("CORE4_LAYER_EXPIRY", default=120),
            "group_expiry": env.int("CORE4_LAYER_GROUP_EXPIRY", default=7 * 86400),
            "prefix": env.str("CORE4_LAYER_PREFIX", default="core4site"),
        },
    }
}

# --- cache (password throttling, README "Throttling") ---------------------------------------
if REDIS_URL:  # shared by every server process
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CORE4_CACHE_PREFIX", default="core4site"),
        }
    }
else:  # the embedded default runs one server process
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
#: Password checks per client address (all) and per user name (failed ones), DRF rate syntax
#: ("N/s", "N/min", "N/hour", "N/day"); "off" disables.
CORE4_PASSWORD_RATE_ADDRESS = env.str("CORE4_PASSWORD_RATE_ADDRESS", default="30/min")
CORE4_PASSWORD_RATE_USER = env.str("CORE4_PASSWORD_RATE_USER", default="10/min")

# --- core4 behaviour ------------------------------------------------------------------------------
CORE4_ADMIN_USERNAME = env.str("CORE4_ADMIN_USERNAME", default="admin")
CORE4_ADMIN_PASSWORD = env.str("CORE4_ADMIN_PASSWORD", default="")
CORE4_ADMIN_EMAIL = env.str("CORE4_ADMIN_EMAIL", default="admin@localhost.localdomain")
CORE4_TOKEN_EXPIRATION = env.int("CORE4_TOKEN_EXPIRATION", default=8 * 3600)
CORE4_TOKEN_REFRESH = env.int("CORE4_TOKEN_REFRESH", default=3600)
#: Absolute lifetime of a session from its password login (s): renewals cannot extend it.
CORE4_SESSION_MAX = env.int("CORE4_SESSION_MAX", default=7 * 86400)
#: Open sockets re-check their user's rights this often (s), besides the instant signal.
CORE4_ACCESS_RECHECK = env.float("CORE4_ACCESS_RECHECK", default=30.0)
CORE4_VERSION = "core4site/0.1.0"

# --- queue (README "The job queue") ---------------------------------------------------------------
#: Packages (or modules) whose job classes may run, found at start-up with all their
#: submodules; the ``jobs`` and ``tasks`` modules of every installed app are added. Nothing
#: else is imported.
CORE4_JOB_PACKAGES = env.list("CORE4_JOB_PACKAGES", default=["jobqueue.jobs"])
#: Foreign job names that run as local classes, e.g. core4's example job (JSON object).
CORE4_JOB_ALIASES = env.json(
    "CORE4_JOB_ALIASES",
    default={"core4.queue.helper.job.example.DummyJob": "jobqueue.jobs.example.DummyJob"},
)
#: django.tasks (DEP 14; backport ``django-tasks`` on Django 5.2): ``@task`` functions run as
#: jobs of this queue (README "django.tasks").
TASKS = {"default": {"BACKEND": "jobqueue.tasks.QueueBackend"}}
#: Jobs a worker runs at the same time. Jobs mostly wait (on I/O, other services, sleep),
#: so the machine's cores are the wrong bound: 8 (README "How the worker works").
CORE4_WORKER_CONCURRENCY = env.int("CORE4_WORKER_CONCURRENCY", default=8)
#: Housekeeping period (s): heartbeat, kill requests, flags, removals, dead workers.
CORE4_WORKER_TICK = env.float("CORE4_WORKER_TICK", default=1.0)
#: A worker whose heartbeat is older than this (s) is dead; its running jobs are killed.
CORE4_WORKER_TIMEOUT = env.float("CORE4_WORKER_TIMEOUT", default=30.0)
#: On SIGTERM/halt running jobs may finish for this long (s) before they are killed.
CORE4_WORKER_GRACE = env.float("CORE4_WORKER_GRACE", default=30.0)
#: SQLite only (no LISTEN/NOTIFY): how often an idle worker looks for work (s).
CORE4_WORKER_POLL = env.float("CORE4_WORKER_POLL", default=0.05)
#: After a job ended, wait up to this long (s) for the jobs launched with it, so that one
#: turn records them together (0: record each end at once).
CORE4_WORKER_GATHER = max(0.0, env.float("CORE4_WORKER_GATHER", default=0.002))
#: A job's start is recorded at most this long (s) after its process said so, and together
#: with its end if it ends meanwhile: a short job costs one turn instead of two (0: at once).
CORE4_WORKER_START_WINDOW = max(0.0, env.float("CORE4_WORKER_START_WINDOW", default=0.005))
#: Directory for the job output files while jobs run (default: the system's temp dir).
CORE4_WORKER_TMP = env.str("CORE4_WORKER_TMP", default="") or None
#: Fork job processes from a small fork server rather than from the worker (README "The job queue").
CORE4_WORKER_FORKSERVER = env.bool("CORE4_WORKER_FORKSERVER", default=True)
#: The warm pool (jobqueue.pool): a pool process is retired after this many jobs ...
CORE4_WORKER_POOL_MAX_JOBS = env.int("CORE4_WORKER_POOL_MAX_JOBS", default=1000)
#: ... or when its resident memory exceeds this many MiB after a job.
CORE4_WORKER_POOL_MAX_MEMORY = env.int("CORE4_WORKER_POOL_MAX_MEMORY", default=512)
#: Management commands the summary-lease holder runs once a day.
CORE4_WORKER_DAILY_COMMANDS = env.list(
    "CORE4_WORKER_DAILY_COMMANDS", default=["prune_events", "prune_jobs"]
)
#: Seconds between queue summaries (float allowed).
CORE4_SUMMARY_INTERVAL = env.float("CORE4_SUMMARY_INTERVAL", default=1.0)
#: Who fires schedules: ``worker`` (a leased duty of the workers, one at a time) or ``off``
#: (workers leave it to ``manage.py scheduler`` / ``coco --scheduler``).
CORE4_SCHEDULER = env.str("CORE4_SCHEDULER", default="worker")
if CORE4_SCHEDULER not in ("worker", "off"):
    raise ImproperlyConfigured(f"CORE4_SCHEDULER must be worker or off, not [{CORE4_SCHEDULER}]")
#: Seconds the scheduler's lease lasts from each step (1 s): another worker or scheduler
#: process takes over within twice that when its holder dies.
CORE4_SCHEDULER_LEASE = env.float("CORE4_SCHEDULER_LEASE", default=3.0)
if CORE4_SCHEDULER_LEASE < 2:
    raise ImproperlyConfigured("CORE4_SCHEDULER_LEASE must be at least 2 (s), steps are 1 s apart")
#: Due schedules fired per transaction in a scheduler step.
CORE4_SCHEDULER_BATCH = max(1, env.int("CORE4_SCHEDULER_BATCH", default=200))
#: Captured stdout/stderr kept per job (bytes; the tail is kept).
CORE4_STDOUT_MAX = env.int("CORE4_STDOUT_MAX", default=1_000_000)
#: Bytes of a job's result (what ``execute`` returns, JSON-encoded); larger: the job fails.
CORE4_RESULT_MAX = env.int("CORE4_RESULT_MAX", default=65_536)
#: Finished (journaled) jobs are deleted this many days after they left the queue, by
#: ``manage.py prune_jobs`` (run daily by the worker).
CORE4_JOB_RETENTION_DAYS = env.int("CORE4_JOB_RETENTION_DAYS", default=30)

# --- events (README "Events") ---------------------------------------------------------------------
#: Events older than this are deleted by ``manage.py prune_events`` (run daily by the worker).
CORE4_EVENT_RETENTION_DAYS = env.int("CORE4_EVENT_RETENTION_DAYS", default=30)
#: Each server process's event hub also polls for new events this often (seconds), in case a
#: wake-up through the channel layer was lost (Redis restart, publisher without a layer).
CORE4_EVENT_POLL_INTERVAL = env.float("CORE4_EVENT_POLL_INTERVAL", default=2.0)
#: A process sends its next hub wake-up no sooner than this (seconds) after its last; what
#: commits meanwhile goes in that one (0: one per commit, unless one is being sent).
CORE4_EVENTS_WAKEUP_INTERVAL = max(0.0, env.float("CORE4_EVENTS_WAKEUP_INTERVAL", default=0.01))
#: ``/queue/history`` without ``startDate`` starts this many days ago (core4's default).
CORE4_QUEUE_HISTORY_DAYS = env.int("CORE4_QUEUE_HISTORY_DAYS", default=7)
#: Event socket limits (README "WebSocket and input limits"), each answered with an error
#: frame: bytes per client frame (daphne closes the socket above 1 MiB regardless) …
CORE4_WS_MAX_FRAME = env.int("CORE4_WS_MAX_FRAME", default=64 * 1024)
#: … channels one socket may be interested in, characters per channel name (at most 128) …
CORE4_WS_MAX_CHANNELS = env.int("CORE4_WS_MAX_CHANNELS", default=100)
CORE4_WS_MAX_CHANNEL_NAME = env.int("CORE4_WS_MAX_CHANNEL_NAME", default=128)
#: … UTF-8 bytes per chat message, and chat messages per second and user (burst: at once).
CORE4_CHAT_MAX_TEXT = env.int("CORE4_CHAT_MAX_TEXT", default=16 * 1024)
CORE4_CHAT_RATE = env.float("CORE4_CHAT_RATE", default=10.0)
CORE4_CHAT_BURST = env.int("CORE4_CHAT_BURST", default=50)

# --- job API (README "The job API") ---------------------------------------------------------------
#: A job followed as server-sent events is polled this often (seconds).
CORE4_JOB_FOLLOW_POLL = env.float("CORE4_JOB_FOLLOW_POLL", default=0.25)
#: A stream ends after this many seconds even if the job is not final (reconnect to go on).
CORE4_JOB_FOLLOW_MAX = env.float("CORE4_JOB_FOLLOW_MAX", default=3600.0)
#: A silent stream sends a comment line this often (seconds), for proxies and dead clients.
CORE4_JOB_FOLLOW_KEEPALIVE = env.float("CORE4_JOB_FOLLOW_KEEPALIVE", default=15.0)

# --- limits on one API request (core4api.limits; each refusal names its setting) -----------
#: bytes of a ``filter`` argument (its JSON text)
CORE4_FILTER_MAX_BYTES = env.int("CORE4_FILTER_MAX_BYTES", default=16_384)
#: items of any list and members of any object in a filter (``$in``, ``$or``, keys …)
CORE4_FILTER_MAX_ITEMS = env.int("CORE4_FILTER_MAX_ITEMS", default=500)
#: nesting of a filter's objects and lists, and parts of a dotted key (``args.a.b``)
CORE4_FILTER_MAX_DEPTH = env.int("CORE4_FILTER_MAX_DEPTH", default=32)
#: conditions in a filter (field comparisons; a list of plain values for ``$in`` is one)
CORE4_FILTER_MAX_CONDITIONS = env.int("CORE4_FILTER_MAX_CONDITIONS", default=100)
#: regular expressions in a filter (each runs once per row it is tested on)
CORE4_FILTER_MAX_PATTERNS = env.int("CORE4_FILTER_MAX_PATTERNS", default=5)
#: characters of one regular expression in a filter
CORE4_FILTER_MAX_REGEX = env.int("CORE4_FILTER_MAX_REGEX", default=256)
#: bytes of a request body (also Django's DATA_UPLOAD_MAX_MEMORY_SIZE)
CORE4_MAX_BODY_BYTES = env.int("CORE4_MAX_BODY_BYTES", default=2_621_440)
DATA_UPLOAD_MAX_MEMORY_SIZE = CORE4_MAX_BODY_BYTES
#: seconds a listing's database queries may run (PostgreSQL statement_timeout; 0 = none)
CORE4_API_QUERY_TIMEOUT = env.float("CORE4_API_QUERY_TIMEOUT", default=5.0)
#: listings with a costly filter (a regex, > 10 conditions or > 1 KiB) at once per process
CORE4_API_COSTLY_FILTERS = env.int("CORE4_API_COSTLY_FILTERS", default=1)
#: job ids in one ``PUT /job/bulk`` (each is checked and acted on in its own transaction)
CORE4_JOB_BULK_MAX = env.int("CORE4_JOB_BULK_MAX", default=100)
#: jobs in one bulk enqueue (``POST /job/bulk``, ``services.enqueue_many``; one statement)
CORE4_ENQUEUE_MANY_MAX = env.int("CORE4_ENQUEUE_MANY_MAX", default=10_000)

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["core4api.renderers.Core4JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [],  # arguments are merged by core4api.arguments
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.HeaderAuthentication",
        "accounts.authentication.TokenArgumentAuthentication",
        "accounts.authentication.PasswordArgumentAuthentication",
        "accounts.authentication.CookieAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api_permissions.HasCore4APIAccess"],
    "DEFAULT_PAGINATION_CLASS": "core4api.pagination.Core4Pager",
    "EXCEPTION_HANDLER": "core4api.exceptions.core4_exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core4api.negotiation.NeverNotAcceptable",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_SCHEMA_CLASS": "core4api.openapi.Core4AutoSchema",
    # Client address for throttling: REMOTE_ADDR, unless behind this many trusted proxies
    # (then X-Forwarded-For); never a header any client can set.
    "NUM_PROXIES": env.int("CORE4_NUM_PROXIES", default=0),
}

# OpenAPI schema at /core4/api/v1/schema/ (core4api/openapi.py + each app's openapi.py);
# the UIs are served from the sidecar.
SPECTACULAR_SETTINGS = {
    "TITLE": "core4site API",
    "DESCRIPTION": "core4's HTTP API: every reply is core4's envelope, errors carry `error`.",
    "VERSION": CORE4_VERSION.split("/", 1)[1],
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/core4/api(/v1)?",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core4api.openapi.add_components",
    ],
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=CORE4_TOKEN_EXPIRATION),
    "ALGORITHM": "HS512",
    "SIGNING_KEY": SECRET_KEY,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
}

#: daphne's access log under ``manage.py up``: "-" (stdout), a file, or "off"; query-string
#: secrets are redacted (core4site.accesslog).
CORE4_ACCESS_LOG = env.str("CORE4_ACCESS_LOG", default="-")

#: "plain" (human-readable, the default) or "json": one JSON object per line from server,
#: worker and job processes and the access log (core4site.logs, README "Monitoring").
CORE4_LOG_FORMAT = env.str("CORE4_LOG_FORMAT", default="plain").strip().lower()
if CORE4_LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"CORE4_LOG_FORMAT must be plain or json, not [{CORE4_LOG_FORMAT}]")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
        "json": {"()": "core4site.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": CORE4_LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("CORE4_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}

# --- monitoring (README "Monitoring") -------------------------------------------------------------
#: Bearer token that may scrape ``/metrics`` (besides users with ``cop``); empty: cop only.
CORE4_METRICS_TOKEN = env.str("CORE4_METRICS_TOKEN", default="")
#: A directory shared by the server processes of one host: their process metrics (HTTP
#: requests, sockets, commit → socket latency) are summed over all of them (prometheus_client's
#: multiprocess mode). Empty: each process reports its own.
CORE4_METRICS_DIR = env.str("CORE4_METRICS_DIR", default="")
if CORE4_METRICS_DIR:  # read by prometheus_client when it is first imported
    Path(CORE4_METRICS_DIR).mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = CORE4_METRICS_DIR
#: Events folded into the queue metrics per scrape at most (a backlog is caught up over the
#: next scrapes), so that a scrape costs a bounded range read of the event table.
CORE4_METRICS_EVENT_BATCH = env.int("CORE4_METRICS_EVENT_BATCH", default=20_000)
#: ``/health/ready``: seconds each check may take before it counts as failed.
CORE4_HEALTH_TIMEOUT = env.float("CORE4_HEALTH_TIMEOUT", default=2.0)
#: ``/health/ready``: the newest worker heartbeat may be at most this old (seconds).
CORE4_HEALTH_HEARTBEAT_MAX = env.float("CORE4_HEALTH_HEARTBEAT_MAX", default=30.0)
