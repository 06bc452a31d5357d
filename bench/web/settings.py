"""Settings of the web benchmark's server: the project's own, plus the floor view's URL.

Used only by bench/web/run.py (`DJANGO_SETTINGS_MODULE=bench.web.settings`). Everything else
(middleware, database, sessions, templates, security headers) is procurement.settings as
production runs it, driven by the environment; the floor is never part of the real site.
"""

from __future__ import annotations

from procurement.settings import *  # noqa: F403

ROOT_URLCONF = "bench.web.urls"
