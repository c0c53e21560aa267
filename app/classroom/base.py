"""What every class-room store shares: the interface, the limits, and the checks that turn bad
input into a ValueError a person can act on, before either backend touches its data."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from abc import ABC, abstractmethod

TTL = 3 * 3600.0  # s: a room closes after this long without a write
MAX_STUDENTS = 500  # a room's seats
RATE, BURST = 5.0, 5  # a student's answers: 5 at once, then 5 a second (more wait, not fail)
WAIT = 2.0  # s: at most this long in one answer call before the store says "slow down"
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # no 0/O, 1/I/L or U/V look-alikes
CODE_LENGTH = 5  # 30**5 = 24 million codes
VALUE_CHARS = 200  # an answer is an option's label or a number: never longer
TEXT_CHARS = 50_000  # the room's sentences, as the sidebar's box
STUDENT = re.compile(r"[A-Za-z0-9_-]{8,64}")
LESSON = re.compile(r"[a-z0-9-]{1,64}")
MAX_STEP = 1_000


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def new_student() -> str:
    """An anonymous id for one browser session: no name, nothing a person chose."""
    return secrets.token_urlsafe(12)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def clip(text: object, n: int = 40) -> str:
    text = str(text)
    return text if len(text) <= n else f"{text[:n]}… ({len(text):,} characters)"


def normal_code(code: object) -> str:
    """A code as typed ("k7m 2q", "K7M-2Q") in the store's spelling, or a ValueError naming
    what is wrong with it."""
    if not isinstance(code, str):
        raise ValueError(f"A room code is text, not {type(code).__name__}.")
    spelled = re.sub(r"[\s-]", "", code).upper()
    example = "K7M2Q"
    if not spelled:
        raise ValueError(f"Type the room code your teacher shows, like {example}.")
    if len(spelled) != CODE_LENGTH or any(c not in ALPHABET for c in spelled):
        raise ValueError(
            f"“{clip(code)}” is not a room code: a code is {CODE_LENGTH} letters and digits "
            f"like {example} (no 0, 1, I, L, O or U). Check it against the teacher's screen."
        )
    return spelled


def check_student(student: object) -> str:
    if not isinstance(student, str) or not STUDENT.fullmatch(student):
        raise ValueError(
            f"“{clip(student)}” is not a student id (8 to 64 letters, digits, - or _): "
            f"open the class's link again to get one."
        )
    return student


def check_step(step: object) -> int:
    if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= MAX_STEP:
        raise ValueError(f"A step is a whole number from 1 to {MAX_STEP}, not “{clip(step)}”.")
    return step


def check_value(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("An answer is a choice or a number; this one is empty.")
    if len(value) > VALUE_CHARS or not value.isprintable():
        raise ValueError(
            f"“{clip(value)}” is not an answer to this step: pick one of the choices or type "
            f"a number."
        )
    return value


def check_lesson(lesson: object) -> str:
    if not isinstance(lesson, str) or not LESSON.fullmatch(lesson):
        raise ValueError(f"“{clip(lesson)}” is not a lesson's name.")
    return lesson


def unknown(code: str) -> ValueError:
    return ValueError(
        f"No class room has the code {code}: check it against the teacher's screen. A room "
        f"closes after {TTL / 3600:g} hours without activity; then the teacher starts a new one."
    )


def expired(code: str) -> ValueError:
    return ValueError(
        f"The class room {code} closed after {TTL / 3600:g} hours without activity: ask the "
        f"teacher to start a new one."
    )


def full(code: str, seats: int) -> ValueError:
    return ValueError(
        f"The class room {code} is full ({seats} students): ask the teacher to start a second room."
    )


def not_joined(code: str) -> ValueError:
    return ValueError(
        f"This browser has not joined class room {code}: open the class's link or type its code "
        f"to join, then answer."
    )


def closed(code: str, step: int, now: int, revealed: bool) -> ValueError | None:
    """Why an answer to ``step`` cannot be taken while the room is at ``now``, or None."""
    if step != now:
        return ValueError(
            f"The class is at step {now} now, not {step}: your screen catches up in a moment."
        )
    if revealed:
        return ValueError(f"Step {step}'s answer is out: answers to it are closed.")
    return None


def bucket(tokens: float, at: float, now: float, rate: float, burst: float) -> float:
    """A token bucket's content at ``now``: one token per answer, refilled at ``rate`` a second."""
    return min(float(burst), tokens + max(0.0, now - at) * rate)


class Store(ABC):
    """A class-room store. Every method checks its input and raises ValueError in plain words;
    the subclasses hold the data (a SQLite file, a Redis server)."""

    def __init__(
        self,
        *,
        ttl: float = TTL,
        max_students: int = MAX_STUDENTS,
        rate: float = RATE,
        burst: int = BURST,
    ) -> None:
        self.ttl, self.max_students, self.rate, self.burst = ttl, max_students, rate, burst

    # --- the interface the issue fixes (tests outside the project call it) ---
    @abstractmethod
    def create_room(self, lesson: str) -> str: ...

    @abstractmethod
    def join(self, code: str, student: str) -> None: ...

    def answer(self, code: str, step: int, student: str, value: str) -> None:
        """Record (or replace) a student's answer to the room's current step. A student who
        answers faster than ``rate`` a second waits (at most WAIT s, then a ValueError)."""
        code, step = normal_code(code), check_step(step)
        student, value = check_student(student), check_value(value)
        deadline = time.monotonic() + WAIT
        while True:
            wait = self._answer(code, step, student, value)
            if wait <= 0:
                return
            if time.monotonic() + wait > deadline:
                raise ValueError("Too many answers at once: wait a second, then answer again.")
            time.sleep(wait)

    @abstractmethod
    def tally(self, code: str, step: int) -> dict[str, int]: ...

    @abstractmethod
    def set_step(self, code: str, step: int, revealed: bool) -> None: ...

    @abstractmethod
    def state(self, code: str) -> dict:
        """lesson, step, revealed, students (joined), answered (at this step), text."""

    # --- what the Lessons page needs besides ---
    @abstractmethod
    def answer_of(self, code: str, step: int, student: str) -> str | None:
        """A student's answer to a step, or None: a reloaded page shows it again."""

    @abstractmethod
    def set_text(self, code: str, text: str) -> None:
        """The sentences every student's step runs on (the teacher's)."""

    @abstractmethod
    def set_teacher(self, code: str, token: str) -> None:
        """Remember (a hash of) the token that lets a teacher's reloaded page drive the room."""

    @abstractmethod
    def is_teacher(self, code: str, token: str) -> bool: ...

    @abstractmethod
    def close(self, code: str) -> None:
        """End the class: the room and its answers are gone."""

    @abstractmethod
    def _answer(self, code: str, step: int, student: str, value: str) -> float:
        """Store the answer and return 0, or store nothing and return the seconds to wait."""

    @staticmethod
    def _text(text: object) -> str:
        if not isinstance(text, str) or len(text) > TEXT_CHARS:
            raise ValueError(f"The class's sentences are at most {TEXT_CHARS:,} characters.")
        return text
