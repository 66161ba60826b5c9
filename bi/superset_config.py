"""Superset's configuration for `make bi` (read through SUPERSET_CONFIG_PATH, set by bi/launch.py).

Everything lives under $CVW_HOME/bi: the metadata DB (SQLite) and the secret key (generated there on first
start, never in the repo). The published file is registered read-only and Superset opens it per query (no
pool), so the next query after a publish sees the new file; the data cache is off for the same reason.
Nothing is sent anywhere: no usage pixel, no external map tiles.
"""

import os

_HOME = os.environ["CVW_BI_HOME"]

SECRET_KEY = os.environ["CVW_BI_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = f"sqlite:///{_HOME}/superset.db"
DATA_DIR = _HOME
WTF_CSRF_ENABLED = True
TALISMAN_ENABLED = False  # served on loopback for one machine; its CSP would not add anything here
SCARF_ANALYTICS = False  # no telemetry pixel (the dashboard must open with no request leaving the machine)
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}  # a publish swap is seen by the next query
EXPLORE_FORM_DATA_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 3600}
FILTER_STATE_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 3600}
PUBLIC_ROLE_LIKE = None  # anonymous users see nothing
FEATURE_FLAGS = {"DASHBOARD_NATIVE_FILTERS": True}
MAPBOX_API_KEY = ""

# Behind a TLS reverse proxy on a shared server (README "Serving the dashboard to a team"): Superset still
# listens on 127.0.0.1 only; the proxy terminates TLS and forwards. Trust the proxy's X-Forwarded-* headers
# (redirects and URLs say https) and send the session cookie only over TLS.
if os.environ.get("CVW_BI_BEHIND_PROXY") == "1":
    ENABLE_PROXY_FIX = True
    PROXY_FIX_CONFIG = {"x_for": 1, "x_proto": 1, "x_host": 1, "x_port": 1, "x_prefix": 1}
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
