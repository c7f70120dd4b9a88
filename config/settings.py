"""Django settings for the Protectors' Portal, read from the environment (see deploy/README.md).

With no variables set the site runs on its embedded profile: SQLite, the database search engine, the
in-memory channel layer, a local-memory cache, tasks run inline and e-mail printed to the console.
DATABASE_URL, REDIS_URL, SEARCH_URL, EMAIL_URL and TASK_BACKEND switch each part to a real service;
DEBUG=false switches on the production hardening, which then requires SECRET_KEY and ALLOWED_HOSTS.
Either way visitors get the site's own error pages; Django's debug pages are DEBUG_PAGES=true.
"""

from pathlib import Path
from urllib.parse import urlsplit

from config import cache, env, layers

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.text("VAR_DIR") or BASE_DIR / "var")

# DEBUG=false makes a deployment (hardened, secrets required); unset, the site is a development
# instance: plain HTTP, a development key, demo accounts allowed.
DEVELOPMENT = env.flag("DEBUG", default=True)
# Django's debug pages show tracebacks, settings and every URL pattern to whoever loads a page, so
# they are for someone chasing a bug on their own machine and must be asked for. Everyone else,
# `make run` included, meets the site's own 404, 403, 500 and CSRF pages, as in production, and
# errors with their tracebacks go to the console.
DEBUG = DEVELOPMENT and env.flag("DEBUG_PAGES", default=False)

SECRET_KEY = env.text("SECRET_KEY")
if not SECRET_KEY:
    if not DEVELOPMENT:
        raise env.ConfigError("SECRET_KEY", "must be set when DEBUG is false")
    SECRET_KEY = "insecure-development-key-only-for-the-embedded-profile"  # noqa: S105

# The public address: e-mails, the admin and (through the Wagtail site that setup_demo points at
# it) the sitemap, feeds, API, canonical links and structured data. `make run` sets it from PORT.
SITE_URL = env.site_url("SITE_URL", "http://127.0.0.1:8000")

ALLOWED_HOSTS = env.word_list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", urlsplit(SITE_URL).hostname]
)
if not DEVELOPMENT and not env.text("ALLOWED_HOSTS"):
    raise env.ConfigError("ALLOWED_HOSTS", "must list the site's host names when DEBUG is false")
CSRF_TRUSTED_ORIGINS = env.word_list("CSRF_TRUSTED_ORIGINS")

WAGTAILADMIN_BASE_URL = SITE_URL
WAGTAIL_SITE_NAME = "Protectors' Portal"
# The admin calls no third party: no Gravatar (it would hand staff e-mail hashes to an outside
# service, and the admin's CSP blocks it anyway), no release-news check, no "what's new" banner.
WAGTAIL_GRAVATAR_PROVIDER_URL = None
# Wagtail's autosave of a new page races its Publish button: the autosaved draft takes the slug
# and publishing the same form then fails. Editors save drafts with "Save draft" instead.
WAGTAIL_AUTOSAVE_INTERVAL = 0
WAGTAIL_ENABLE_UPDATE_CHECK = False
WAGTAIL_ENABLE_WHATS_NEW_BANNER = False

INSTALLED_APPS = [
    "daphne",
    "config",
    "wagtail.contrib.routable_page",
    "wagtail.contrib.sitemaps",
    "wagtail.api.v2",
    "rest_framework",
    "library",
    "portal",
    "search",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_filters",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "channels",
    "django_tasks",
    "django_tasks_db",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
]

MIDDLEWARE = [
    "config.logs.RequestIdMiddleware",
    "config.metrics.RequestLatencyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.CleanInputMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "portal.middleware.SessionLifetimeMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Data ------------------------------------------------------------------------------------

# DATABASE_POOL_SIZE bounds each process's PostgreSQL connections (config.env.database).
DATABASES = {
    "default": env.database(
        "DATABASE_URL",
        f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        pool_size=env.integer("DATABASE_POOL_SIZE", 8),
        # PgBouncer in transaction pooling between the site and PostgreSQL (deploy/README.md).
        pgbouncer=env.flag("DATABASE_PGBOUNCER", default=False),
    )
}
if not env.text("DATABASE_URL"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # SQLite creates the file, not its folder
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "portal.User"

# Sentinels, when given, name the Redis primary and replace REDIS_URL.
REDIS_URL = env.redis_sentinels("REDIS_SENTINELS") or env.redis_url("REDIS_URL")
# Posts pass through the channel layer: in production its messages are encrypted in Redis.
CHANNEL_LAYER_ENCRYPTION_KEYS = env.word_list("CHANNEL_LAYER_ENCRYPTION_KEYS")
if REDIS_URL and not DEVELOPMENT and not CHANNEL_LAYER_ENCRYPTION_KEYS:
    raise env.ConfigError(
        "CHANNEL_LAYER_ENCRYPTION_KEYS", "must be set when DEBUG is false and Redis is used"
    )
# Redis carries hints and counts, never the truth: config.cache and config.layers keep posting,
# signing in and open sockets working while it is away.
if REDIS_URL:
    CACHES = cache.redis_caches(REDIS_URL)
    CHANNEL_LAYERS = {
        "default": layers.redis_layer(REDIS_URL, encryption_keys=CHANNEL_LAYER_ENCRYPTION_KEYS)
    }
else:
    CACHES = cache.memory_caches()
    CHANNEL_LAYERS = {"default": layers.memory_layer()}

# The public search service (search/): which engine, and where. Wagtail's own backend below keeps
# serving the admin's page and document search.
SEARCH = {
    **env.search("SEARCH_URL"),
    "INDEX": env.text("SEARCH_INDEX", "portal-library"),
    # A cluster keeps each shard on SEARCH_REPLICAS more nodes, so losing a node loses no data.
    "SHARDS": env.integer("SEARCH_SHARDS", 1),
    "REPLICAS": env.integer("SEARCH_REPLICAS", 0),
    # A page of results is answered from the cache this long while nothing it depends on changes
    # (search.results_cache); 0 searches afresh every time.
    "RESULTS_CACHE_SECONDS": env.integer("SEARCH_RESULTS_CACHE_SECONDS", 30),
}
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
# Search analytics (search.analytics): editors see a query once this many searches made it, and
# counts older than this many days are deleted.
SEARCH_ANALYTICS_MIN_SEARCHES = env.integer("SEARCH_ANALYTICS_MIN_SEARCHES", 5)
SEARCH_ANALYTICS_RETENTION_DAYS = env.integer("SEARCH_ANALYTICS_RETENTION_DAYS", 365)

TASK_BACKEND = env.text("TASK_BACKEND", "immediate")
if TASK_BACKEND not in {"immediate", "database"}:
    raise env.ConfigError("TASK_BACKEND", f"expected immediate or database, got {TASK_BACKEND!r}")
TASKS = {
    "default": {
        "BACKEND": {
            "immediate": "django_tasks.backends.immediate.ImmediateBackend",
            "database": "django_tasks_db.DatabaseBackend",
        }[TASK_BACKEND],
    }
}

globals().update(env.email("EMAIL_URL"))
DEFAULT_FROM_EMAIL = globals().get("DEFAULT_FROM_EMAIL") or "Protectors' Portal <portal@localhost>"
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Accounts --------------------------------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
# Confirming the address in the browser that signed up signs the person in, and the adapter
# takes them on to the membership application.
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
# Changing the e-mail address or the password asks for the password (or a second factor) again
# when the last sign-in was not recent; the MFA pages always do.
ACCOUNT_REAUTHENTICATION_REQUIRED = True
# Tell people by e-mail when their password, e-mail addresses or second factors change, so a
# take-over does not go unnoticed.
ACCOUNT_EMAIL_NOTIFICATIONS = True
# Sign-up, log-in and reset forms answer the same whether or not an address has an account.
ACCOUNT_PREVENT_ENUMERATION = True
# Sessions end when the browser closes; there is no "remember me".
ACCOUNT_SESSION_REMEMBER = False
# allauth's defaults, written out so they are reviewed with the rest. The counts live in the
# default cache, which is Redis in the services profile, so every web process shares them.
# "login_failed" refuses the sixth failed log-in in five minutes for one address.
ACCOUNT_RATE_LIMITS = {
    "change_password": "5/m/user",
    "change_phone": "1/m/user",
    "manage_email": "10/m/user",
    "reset_password": "20/m/ip,5/m/key",
    "reauthenticate": "10/m/user",
    "reset_password_from_key": "20/m/ip",
    "signup": "20/m/ip",
    "login": "30/m/ip",
    "request_login_code": "20/m/ip,3/m/key",
    "login_failed": "10/m/ip,5/300s/key",
    "confirm_email": "1/180s/key",
    "verify_phone": "1/30s/key,3/m/ip",
}
# Per-IP limits need the client's address, not the proxy's: behind the nginx of deploy/README.md
# (one proxy appending to X-Forwarded-For) set TRUSTED_PROXY_COUNT=1.
ALLAUTH_TRUSTED_PROXY_COUNT = env.integer("TRUSTED_PROXY_COUNT", 0)
ACCOUNT_ADAPTER = "portal.accounts.AccountAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Protectors' Portal] "
MFA_ADAPTER = "portal.accounts.MFAAdapter"
# Fernet keys for TOTP secrets and recovery-code seeds, comma-separated, newest first; unset,
# portal.accounts derives one from SECRET_KEY.
MFA_ENCRYPTION_KEY = env.text("MFA_ENCRYPTION_KEY")
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = "Protectors' Portal"
# fido2 accepts only https origins; development and tests run on plain http. This skips the
# origin check altogether, so it follows DEBUG and is never on in production.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEVELOPMENT
USERSESSIONS_TRACK_ACTIVITY = True
INSTALLED_APPS += ["django.contrib.humanize"]  # the session list's "3 minutes ago"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Portal --------------------------------------------------------------------------------

# Signed-in sessions end after this long without a request, and in any case this long after
# signing in (portal.middleware); closing the browser ends them too.
SESSION_IDLE_TIMEOUT = env.integer("SESSION_IDLE_TIMEOUT", 30 * 60)
SESSION_ABSOLUTE_LIFETIME = env.integer("SESSION_ABSOLUTE_LIFETIME", 12 * 60 * 60)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_LIFETIME
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

PORTAL_MAX_POST_LENGTH = env.integer("PORTAL_MAX_POST_LENGTH", 20_000)
# Posts per member per window of seconds ("8/60"), counted in the shared cache.
PORTAL_POST_RATE = env.rate("PORTAL_POST_RATE", "8/60")
PORTAL_EDIT_GRACE_SECONDS = env.integer("PORTAL_EDIT_GRACE_SECONDS", 5 * 60)
# Hold a new member's first N posts for a moderator's approval (0: publish at once).
PORTAL_HOLD_FIRST_POSTS = env.integer("PORTAL_HOLD_FIRST_POSTS", 0)

# Attachments (portal.actions.attachments): limits members meet with a message, not an error.
ATTACHMENT_MAX_BYTES = env.integer("ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024)
ATTACHMENTS_PER_POST = env.integer("ATTACHMENTS_PER_POST", 5)
ATTACHMENT_DAILY_QUOTA_BYTES = env.integer("ATTACHMENT_DAILY_QUOTA_BYTES", 100 * 1024 * 1024)
# Files per member per window of seconds, counted in the shared cache as posts are.
ATTACHMENT_UPLOAD_RATE = env.rate("ATTACHMENT_UPLOAD_RATE", "20/3600")
# Files the hash list matched are kept this long as evidence, then purged (purge_quarantine).
QUARANTINE_RETENTION_DAYS = env.integer("QUARANTINE_RETENTION_DAYS", 365)
SUSPEND_ON_HASH_MATCH = env.flag("SUSPEND_ON_HASH_MATCH", default=True)
# Behind nginx: the internal location that serves the attachments folder (deploy/README.md);
# Django then checks the policy and names the file, and the proxy sends the bytes.
ATTACHMENT_ACCEL_REDIRECT = env.text("ATTACHMENT_ACCEL_REDIRECT")
# --- Attachments: the safety pipeline (portal/attachments/safety.py) ----------------------------

# Every attachment is scanned by clamd before anyone can fetch it. Unset, nothing can be scanned,
# so files wait as "pending scan" until CLAMD_URL is set: a forgotten variable delays files, it
# never lets an unscanned one through (and `check --deploy` says so). ATTACHMENT_SCAN=off skips
# the scan for development only; production settings refuse it.
CLAMD_URL = env.clamd_url("CLAMD_URL")
CLAMD_TIMEOUT = env.integer("CLAMD_TIMEOUT", 60)
ATTACHMENT_SCAN = env.text("ATTACHMENT_SCAN", "clamd")
if ATTACHMENT_SCAN not in {"clamd", "off"}:
    raise env.ConfigError("ATTACHMENT_SCAN", f"expected clamd or off, got {ATTACHMENT_SCAN!r}")
if ATTACHMENT_SCAN == "off" and not DEVELOPMENT:
    raise env.ConfigError("ATTACHMENT_SCAN", "off is for development only (DEBUG=true)")
# Images larger than this many pixels are refused before they are decoded (decompression bombs).
ATTACHMENT_MAX_PIXELS = env.integer("ATTACHMENT_MAX_PIXELS", 50_000_000)
# Office files are zip archives: at most this many bytes are unpacked to read their text.
ATTACHMENT_MAX_UNPACKED_BYTES = env.integer("ATTACHMENT_MAX_UNPACKED_BYTES", 64 * 1024 * 1024)
# An image whose PDQ hash is within this Hamming distance of a hash-list entry is a match.
PDQ_MATCH_DISTANCE = env.integer("PDQ_MATCH_DISTANCE", 31)

# --- Files -----------------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.text("MEDIA_ROOT") or VAR_DIR / "media")
# Attachments and quarantine live apart from MEDIA_ROOT, in folders no URL maps to: files leave
# them only through the attachment view, which asks the policy first.
PRIVATE_FILES_ROOT = Path(env.text("PRIVATE_FILES_ROOT") or VAR_DIR / "private")
_PRIVATE = {"file_permissions_mode": 0o600, "directory_permissions_mode": 0o700}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "attachments": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_FILES_ROOT / "attachments", **_PRIVATE},
    },
    "quarantine": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_FILES_ROOT / "quarantine", **_PRIVATE},
    },
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEVELOPMENT
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# In development whitenoise serves straight from the app and project static folders.
WHITENOISE_USE_FINDERS = DEVELOPMENT
WHITENOISE_AUTOREFRESH = DEVELOPMENT
WAGTAILDOCS_EXTENSIONS = ["pdf", "docx", "xlsx", "pptx", "odt", "png", "jpg", "jpeg", "webp"]
WAGTAILDOCS_MAX_UPLOAD_SIZE = 20 * 1024 * 1024
WAGTAILDOCS_SERVE_METHOD = "serve_view"  # documents always pass the privacy check in Django
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# --- Security --------------------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"  # Wagtail lifts this on its own preview views, which the admin frames
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# A refused form gets the site's page, which says what was typed is still there (Back).
CSRF_FAILURE_VIEW = "config.views.csrf_failure"
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=(), "
    "publickey-credentials-get=(self), publickey-credentials-create=(self)"
)

if not DEVELOPMENT:
    SECURE_SSL_REDIRECT = env.flag("SECURE_SSL_REDIRECT", default=True)
    # Prometheus scrapes each web process over plain HTTP on loopback (METRICS_ALLOWED_IPS).
    SECURE_REDIRECT_EXEMPT = [r"^metrics$"]
    SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 63_072_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # `__Host-` cookies are only accepted over HTTPS, for the exact host, with Path=/.
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_SECURE = True
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    if env.flag("BEHIND_TLS_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"

_SELF = "'self'"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_SELF],
        "script-src": [_SELF],
        "style-src": [_SELF],
        "img-src": [_SELF, "data:"],
        "font-src": [_SELF],
        "connect-src": [_SELF],
        "frame-src": [_SELF],
        "frame-ancestors": ["'none'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": [_SELF],
    }
}
# The Wagtail admin needs inline styles and scripts and blob: images, so it gets its own, looser
# policy; config.middleware applies it under WAGTAIL_ADMIN_PATH only.
WAGTAIL_ADMIN_PATH = "/admin/"
ADMIN_CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        **CONTENT_SECURITY_POLICY["DIRECTIVES"],
        "script-src": [_SELF, "'unsafe-inline'"],
        "style-src": [_SELF, "'unsafe-inline'"],
        "img-src": [_SELF, "data:", "blob:"],
        "media-src": [_SELF, "blob:"],
        "frame-ancestors": [_SELF],
    }
}

# --- Operations ------------------------------------------------------------------------------

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
# allauth's English reworded in the site's voice (locale/en_GB/LC_MESSAGES/django.po).
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

# Who may read /metrics (config.metrics): the request's REMOTE_ADDR, which behind nginx is the
# proxy's own address, so nginx refuses /metrics itself (deploy/nginx/portal.conf).
METRICS_ALLOWED_IPS = env.word_list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])

LOG_FORMAT = env.text("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise env.ConfigError("LOG_FORMAT", f"expected plain or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # One JSON object a line, with the request's id (config.logs), for log collectors.
        "json": {"()": "config.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "filters": {
        "quiet_redis_outage": {"()": "config.layers.QuietOutage"},
        "request_id": {"()": "config.logs.RequestIdFilter"},
        "successful_static_requests": {"()": "config.logs.SuccessfulStaticRequests"},
    },
    "root": {"handlers": ["console"], "level": env.text("LOG_LEVEL", "INFO")},
    "loggers": {
        # A traceback a second per process while Redis is away; config.layers says it once.
        "channels_redis.pubsub": {"filters": ["quiet_redis_outage"]},
        "django.db.backends": {"level": "INFO"},
        # The access log already has a line for every 4xx; errors (5xx, with their tracebacks)
        # still come from here.
        "django.request": {"level": "ERROR"},
        # `make run`'s server (daphne's runserver): one line per request, none per static file,
        # and none of its start-up chatter.
        "django.channels.server": {"filters": ["successful_static_requests"]},
        "daphne.server": {"level": "WARNING"},
        "django.utils.autoreload": {"level": "WARNING"},
        "django_tasks": {"level": "WARNING"},
        # The search clients log a traceback per failed request; search.engines reports the
        # failure itself, once, in words.
        "opensearch": {"level": "ERROR"},
        # The pool logs every failed reconnection while PostgreSQL is away; /healthz and the
        # failing requests already say so.
        "psycopg.pool": {"level": "ERROR"},
        "elastic_transport": {"level": "ERROR"},
    },
}
