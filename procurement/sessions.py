"""The database session store, reading a session with a query compiled once per process.

Every signed-in page loads its session first; compiling that lookup again each time was
~0.3 ms of every page's Python (bench/web cpu_profile). Sessions stay in the database, so any
web process serves any request (docs/scaling.md).
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from procurement.prepared import PreparedQuery

# By key alone: a prepared query swaps ints and strs, not the time. The expiry is checked
# below, as the database store's own query does (expire_date > now).
_SESSION_BY_KEY = PreparedQuery(lambda session_key: Session.objects.filter(session_key=session_key))


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self) -> Any:
        key = self.session_key
        # The database store asks with any key; an empty one never matches.
        session = _SESSION_BY_KEY.first(session_key=key) if key else None
        if session is None or session.expire_date <= timezone.now():
            self._session_key = None
            return None
        return session
