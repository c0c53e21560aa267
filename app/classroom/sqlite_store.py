"""Class rooms in a SQLite file (WAL mode): the default, with nothing to set up, and rooms that
outlive a restart of the app server. One connection per thread; every write is one
``BEGIN IMMEDIATE`` transaction, so 200 students answering at once give an exact tally."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from app.classroom import base
from app.classroom.base import Store, check_lesson, check_step, check_student, normal_code

SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    code TEXT PRIMARY KEY, lesson TEXT NOT NULL, step INTEGER NOT NULL DEFAULT 1,
    revealed INTEGER NOT NULL DEFAULT 0, text TEXT NOT NULL DEFAULT '', teacher TEXT,
    created REAL NOT NULL, touched REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS students (
    code TEXT NOT NULL, student TEXT NOT NULL, joined REAL NOT NULL,
    tokens REAL NOT NULL, at REAL NOT NULL, PRIMARY KEY (code, student)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS answers (
    code TEXT NOT NULL, step INTEGER NOT NULL, student TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (code, step, student)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rooms_touched ON rooms (touched);
"""
KEEP_GONE = 24 * 3600.0  # s: an expired room is remembered this long, to say "expired"


class SQLiteStore(Store):
    def __init__(self, path: Path, **limits: float) -> None:
        super().__init__(**limits)
        self.path = path
        self._local = threading.local()  # one connection per thread
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as err:
            raise ValueError(f"The class-room file {path} cannot be opened: {err}.") from None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a crash loses no committed room
        db.execute("PRAGMA foreign_keys=OFF")
        return db

    @property
    def _db(self) -> sqlite3.Connection:
        if getattr(self._local, "db", None) is None:
            self._local.db = self._connect()
        return self._local.db

    def _tx(self, read: bool = False) -> _Transaction:
        return _Transaction(self._db, read)

    def _room(self, db: sqlite3.Connection, code: str) -> sqlite3.Row:
        """The live room ``code``, or the ValueError that says why there is none."""
        row = db.execute(
            "SELECT lesson, step, revealed, text, teacher, touched FROM rooms WHERE code = ?",
            (code,),
        ).fetchone()
        if row is None:
            raise base.unknown(code)
        if time.time() - row[5] > self.ttl:
            raise base.expired(code)
        return row

    def _touch(self, db: sqlite3.Connection, code: str) -> None:
        db.execute("UPDATE rooms SET touched = ? WHERE code = ?", (time.time(), code))

    def create_room(self, lesson: str) -> str:
        lesson = check_lesson(lesson)
        now = time.time()
        with self._tx() as db:
            gone = now - self.ttl - KEEP_GONE
            for table in ("answers", "students"):
                db.execute(
                    f"DELETE FROM {table} WHERE code IN (SELECT code FROM rooms WHERE touched < ?)",
                    (gone,),
                )
            db.execute("DELETE FROM rooms WHERE touched < ?", (gone,))
            while True:
                code = base.new_code()
                if db.execute("SELECT 1 FROM rooms WHERE code = ?", (code,)).fetchone() is None:
                    break
            db.execute(
                "INSERT INTO rooms (code, lesson, created, touched) VALUES (?, ?, ?, ?)",
                (code, lesson, now, now),
            )
        return code

    def join(self, code: str, student: str) -> None:
        code, student = normal_code(code), check_student(student)
        with self._tx() as db:
            self._room(db, code)
            known = db.execute(
                "SELECT 1 FROM students WHERE code = ? AND student = ?", (code, student)
            ).fetchone()
            if known is None:
                (seated,) = db.execute(
                    "SELECT COUNT(*) FROM students WHERE code = ?", (code,)
                ).fetchone()
                if seated >= self.max_students:
                    raise base.full(code, self.max_students)
                now = time.time()
                db.execute(
                    "INSERT INTO students (code, student, joined, tokens, at) VALUES (?,?,?,?,?)",
                    (code, student, now, float(self.burst), now),
                )
            self._touch(db, code)

    def _answer(self, code: str, step: int, student: str, value: str) -> float:
        with self._tx() as db:
            room = self._room(db, code)
            why = base.closed(code, step, room[1], bool(room[2]))
            if why:
                raise why
            seat = db.execute(
                "SELECT tokens, at FROM students WHERE code = ? AND student = ?", (code, student)
            ).fetchone()
            if seat is None:
                raise base.not_joined(code)
            now = time.time()
            tokens = base.bucket(seat[0], seat[1], now, self.rate, self.burst)
            if tokens < 1:
                return (1 - tokens) / self.rate
            db.execute(
                "UPDATE students SET tokens = ?, at = ? WHERE code = ? AND student = ?",
                (tokens - 1, now, code, student),
            )
            db.execute(
                "INSERT INTO answers (code, step, student, value) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (code, step, student) DO UPDATE SET value = excluded.value",
                (code, step, student, value),
            )
            self._touch(db, code)
        return 0.0

    def tally(self, code: str, step: int) -> dict[str, int]:
        code, step = normal_code(code), check_step(step)
        with self._tx(read=True) as db:
            self._room(db, code)
            rows = db.execute(
                "SELECT value, COUNT(*) FROM answers WHERE code = ? AND step = ? GROUP BY value "
                "ORDER BY value",
                (code, step),
            ).fetchall()
        return {value: n for value, n in rows}

    def set_step(self, code: str, step: int, revealed: bool) -> None:
        code, step = normal_code(code), check_step(step)
        with self._tx() as db:
            self._room(db, code)
            db.execute(
                "UPDATE rooms SET step = ?, revealed = ?, touched = ? WHERE code = ?",
                (step, int(bool(revealed)), time.time(), code),
            )

    def state(self, code: str) -> dict:
        code = normal_code(code)
        with self._tx(read=True) as db:
            lesson, step, revealed, text, _, _ = self._room(db, code)
            (students,) = db.execute(
                "SELECT COUNT(*) FROM students WHERE code = ?", (code,)
            ).fetchone()
            (answered,) = db.execute(
                "SELECT COUNT(*) FROM answers WHERE code = ? AND step = ?", (code, step)
            ).fetchone()
        return dict(
            lesson=lesson,
            step=step,
            revealed=bool(revealed),
            students=students,
            answered=answered,
            text=text,
        )

    def answer_of(self, code: str, step: int, student: str) -> str | None:
        code, step, student = normal_code(code), check_step(step), check_student(student)
        with self._tx(read=True) as db:
            self._room(db, code)
            row = db.execute(
                "SELECT value FROM answers WHERE code = ? AND step = ? AND student = ?",
                (code, step, student),
            ).fetchone()
        return None if row is None else row[0]

    def set_text(self, code: str, text: str) -> None:
        code, text = normal_code(code), self._text(text)
        with self._tx() as db:
            self._room(db, code)
            db.execute(
                "UPDATE rooms SET text = ?, touched = ? WHERE code = ?", (text, time.time(), code)
            )

    def set_teacher(self, code: str, token: str) -> None:
        code = normal_code(code)
        with self._tx() as db:
            self._room(db, code)
            db.execute("UPDATE rooms SET teacher = ? WHERE code = ?", (base.digest(token), code))

    def is_teacher(self, code: str, token: str) -> bool:
        code = normal_code(code)
        with self._tx(read=True) as db:
            teacher = self._room(db, code)[4]
        return teacher is not None and isinstance(token, str) and teacher == base.digest(token)

    def close(self, code: str) -> None:
        code = normal_code(code)
        with self._tx() as db:
            for table in ("answers", "students", "rooms"):
                db.execute(f"DELETE FROM {table} WHERE code = ?", (code,))


class _Transaction:
    """``with store._tx() as db``: BEGIN IMMEDIATE (a writer) or a plain read, committed on
    success, rolled back on any error (a ValueError included: nothing in the room changes)."""

    def __init__(self, db: sqlite3.Connection, read: bool = False) -> None:
        self.db, self.read = db, read

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN" if self.read else "BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, err, _) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        if kind is not None and issubclass(kind, sqlite3.Error):  # a full disk, a lost file
            raise ConnectionError(f"The class-room file cannot be used: {err}.") from err
