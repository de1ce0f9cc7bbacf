"""Settings of the test site; the collector's URL comes from the environment (tests start their own)."""

import os

SECRET_KEY = "django-test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "footfall_django",
]
MIDDLEWARE = [
    "footfall_django.middleware.FootfallMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "django_site.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ.get("DJANGO_SITE_DB", ":memory:")}}
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [os.path.join(os.path.dirname(__file__), "templates")],
    "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                       "django.contrib.auth.context_processors.auth"]},
}]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LOGGING_CONFIG = None

FOOTFALL = {
    "COLLECTOR_URL": os.environ.get("FOOTFALL_TEST_COLLECTOR", "http://127.0.0.1:9"),
    "SECRET": "sk_test_0123456789abcdef0123456789abcdef",
    "PUBLIC_KEY": "pk_test",
    "EVENT_NAMES": [(r"^/$", "event.home.view"), (r"^/watch/", "event.video.watch"),
                    (r"^/accounts/register/$", "event.register")],
    "SEND_POST_FIELDS": True,
    "SCRUB": ["pin"],
    "FLUSH_INTERVAL": 0.05,
    "BATCH_SIZE": 20,
}
