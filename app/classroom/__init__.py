"""Class rooms: a teacher's room code, the students who joined, their answers per lesson step,
and the step and reveal everyone follows. Shared between sessions and between app servers, so it
lives in a store, never in this process: SQLite (a file, the default) or Redis (several servers).

    store = open_store("sqlite:////abs/path/rooms.db")   # or "redis://localhost:6379/0"
    code = store.create_room("attention-head")
    store.join(code, student)
    store.answer(code, 1, student, "it")
    store.tally(code, 1)              # {"it": 1}
    store.set_step(code, 1, revealed=True)
    store.state(code)                 # {"lesson", "step", "revealed", "students", ...}

Bad input (an unknown or expired code, a full room, an answer from a student who has not
joined, a value that is not one) raises ValueError with words a person can act on.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from app.classroom.base import MAX_STUDENTS, TTL, Store, normal_code

__all__ = [
    "MAX_STUDENTS",
    "TTL",
    "Store",
    "default_store",
    "default_url",
    "normal_code",
    "open_store",
]

ENV = "ENCODER_EXPLORER_STORE"  # the one setting that picks the store
DATA = Path(__file__).resolve().parents[2] / "data"  # the default SQLite file (git-ignored)


def open_store(url: str, **limits: float) -> Store:
    """The store at ``url``: ``sqlite:///absolute/path.db`` or ``redis://host:port/db``.
    ``limits`` (ttl seconds, max_students, rate, burst) are for tests and operators."""
    if not isinstance(url, str):
        raise ValueError(f"A store address is a string, not {type(url).__name__}.")
    if url.startswith("sqlite:///"):
        from app.classroom.sqlite_store import SQLiteStore

        # sqlite:///srv/rooms.db (a URL's path) and sqlite:////srv/rooms.db (SQLAlchemy's) agree
        path = "/" + url.removeprefix("sqlite:///").lstrip("/")
        if path == "/" or path.endswith("/"):
            raise ValueError(
                f"A SQLite store is named by a file path, like sqlite:///srv/rooms.db; "
                f"“{url[:200]}” names no file."
            )
        return SQLiteStore(Path(path), **limits)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from app.classroom.redis_store import RedisStore

        return RedisStore(url, **limits)
    raise ValueError(
        f"The class-room store “{url[:200]}” is neither sqlite:///absolute/path.db nor "
        f"redis://host:port/db. Set {ENV} to one of those, or leave it unset for the default "
        f"SQLite file in {DATA}."
    )


def default_url() -> str:
    """The store this app server uses: ``$ENCODER_EXPLORER_STORE``, else a SQLite file in data/."""
    return os.environ.get(ENV, "").strip() or f"sqlite:///{DATA / 'classroom.db'}"


def default_store() -> Store:
    """The store this app server uses, opened once per address: it holds connections, never a
    room (rooms live in the store's file or server, so every app server sees the same ones)."""
    url = default_url()
    with _OPEN.lock:
        if _OPEN.url != url:  # first use, or the setting changed (tests)
            _OPEN.store, _OPEN.url = open_store(url), url
        return _OPEN.store


class _OPEN:  # the one open store of this process, and its address
    lock = threading.Lock()
    url: str | None = None
    store: Store | None = None
