"""Class rooms in Redis, for several app servers behind a load balancer. Each check-and-write
(a seat in a full room, an answer after the reveal, a student's answer rate) is one Lua script,
so it is atomic across servers; every key of a room expires after ``ttl`` without a write."""

from __future__ import annotations

import contextlib
import time

import redis

from app.classroom import base
from app.classroom.base import Store, check_lesson, check_step, check_student, normal_code

KEEP_GONE = 24 * 3600.0  # s: an expired room's code is remembered this long, to say "expired"

# KEYS: room, gone, seats, answers of the step; ARGV[1..2]: ttl and keep-gone in ms.
# A Lua function shared by the scripts below: the room's state, or an error word.
ROOM = """
local function room()
  if redis.call('EXISTS', KEYS[1]) == 0 then
    if redis.call('EXISTS', KEYS[2]) == 1 then return 'expired' end
    return 'unknown'
  end
  return nil
end
local function touch()
  local ttl = tonumber(ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl + tonumber(ARGV[2]))
  redis.call('PEXPIRE', KEYS[3], ttl)
  redis.call('PEXPIRE', KEYS[4], ttl)
end
"""
# ARGV[3]: student, ARGV[4]: seats
JOIN = (
    ROOM
    + """
local why = room() if why then return {why} end
if redis.call('HEXISTS', KEYS[3], ARGV[3]) == 0 then
  if redis.call('HLEN', KEYS[3]) >= tonumber(ARGV[4]) then return {'full'} end
  local t = redis.call('TIME')
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[5] .. ' ' .. t[1] .. '.' .. string.format('%06d', t[2]))
end
touch()
return {'ok'}
"""
)
# ARGV[3]: student, ARGV[4]: step, ARGV[5]: value, ARGV[6]: rate, ARGV[7]: burst
ANSWER = (
    ROOM
    + """
local why = room() if why then return {why} end
local now_step = tonumber(redis.call('HGET', KEYS[1], 'step'))
if now_step ~= tonumber(ARGV[4]) then return {'step', tostring(now_step)} end
if redis.call('HGET', KEYS[1], 'revealed') == '1' then return {'revealed'} end
local seat = redis.call('HGET', KEYS[3], ARGV[3])
if not seat then return {'notjoined'} end
local sp = string.find(seat, ' ')
local tokens, at = tonumber(string.sub(seat, 1, sp - 1)), tonumber(string.sub(seat, sp + 1))
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local rate, burst = tonumber(ARGV[6]), tonumber(ARGV[7])
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
if tokens < 1 then return {'wait', tostring((1 - tokens) / rate)} end
redis.call('HSET', KEYS[3], ARGV[3], string.format('%.6f %.6f', tokens - 1, now))
redis.call('HSET', KEYS[4], ARGV[3], ARGV[5])
touch()
return {'ok'}
"""
)
# ARGV[3]: field, ARGV[4]: value (fields of the room's hash: step+revealed, text, teacher)
SET = (
    ROOM
    + """
local why = room() if why then return {why} end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
touch()
return {'ok'}
"""
)


class RedisStore(Store):
    def __init__(self, url: str, **limits: float) -> None:
        super().__init__(**limits)
        self.url = url
        try:
            self.db = redis.Redis.from_url(
                url, decode_responses=True, socket_timeout=10, socket_connect_timeout=5
            )
        except ValueError as err:
            raise ValueError(f"“{base.clip(url, 200)}” is not a Redis address: {err}.") from None
        self._join = self.db.register_script(JOIN)
        self._answer_script = self.db.register_script(ANSWER)
        self._set = self.db.register_script(SET)

    def _keys(self, code: str, step: int | str = 0) -> list[str]:
        room = f"ee:room:{code}"
        return [room, f"ee:gone:{code}", f"{room}:seats", f"{room}:answers:{step}"]

    def _ms(self) -> list[int]:
        return [int(self.ttl * 1000), int(KEEP_GONE * 1000)]

    def _run(self, script, code: str, step: int | str, *args: object) -> list[str]:
        with self._up():
            result = script(keys=self._keys(code, step), args=[*self._ms(), *args])
        word = result[0]
        if word == "unknown":
            raise base.unknown(code)
        if word == "expired":
            raise base.expired(code)
        return result

    @contextlib.contextmanager
    def _up(self):
        """A Redis that cannot be reached says so in words, with its address."""
        try:
            yield
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as err:
            raise ConnectionError(
                f"The class-room store at {self.url} cannot be reached ({err}); the app server's "
                f"operator can check that Redis is running."
            ) from None

    def _room(self, code: str) -> dict[str, str]:
        with self._up():
            room = self.db.hgetall(self._keys(code)[0])
            gone = not room and self.db.exists(self._keys(code)[1])
        if not room:
            raise base.expired(code) if gone else base.unknown(code)
        return room

    def create_room(self, lesson: str) -> str:
        lesson = check_lesson(lesson)
        now = repr(time.time())
        with self._up():
            while True:
                code = base.new_code()
                room, gone, _, _ = self._keys(code)
                if self.db.set(gone, now, nx=True, px=int((self.ttl + KEEP_GONE) * 1000)):
                    break
            with self.db.pipeline() as pipe:  # MULTI/EXEC: the room appears whole
                fields = dict(lesson=lesson, step=1, revealed=0, text="", created=now)
                pipe.hset(room, mapping=fields)
                pipe.pexpire(room, int(self.ttl * 1000))
                pipe.execute()
        return code

    def join(self, code: str, student: str) -> None:
        code, student = normal_code(code), check_student(student)
        word = self._run(self._join, code, 0, student, self.max_students, float(self.burst))[0]
        if word == "full":
            raise base.full(code, self.max_students)

    def _answer(self, code: str, step: int, student: str, value: str) -> float:
        result = self._run(
            self._answer_script, code, step, student, step, value, self.rate, self.burst
        )
        word = result[0]
        if word == "step":
            raise base.closed(code, step, int(result[1]), False)
        if word == "revealed":
            raise base.closed(code, step, step, True)
        if word == "notjoined":
            raise base.not_joined(code)
        return float(result[1]) if word == "wait" else 0.0

    def tally(self, code: str, step: int) -> dict[str, int]:
        code, step = normal_code(code), check_step(step)
        self._room(code)
        with self._up():
            values = self.db.hvals(self._keys(code, step)[3])
        counts: dict[str, int] = {}
        for value in sorted(values):
            counts[value] = counts.get(value, 0) + 1
        return counts

    def set_step(self, code: str, step: int, revealed: bool) -> None:
        code, step = normal_code(code), check_step(step)
        self._run(self._set, code, step, "step", step, "revealed", int(bool(revealed)))

    def state(self, code: str) -> dict:
        code = normal_code(code)
        room = self._room(code)
        step = int(room["step"])
        with self._up(), self.db.pipeline(transaction=False) as pipe:
            _, _, seats, answers = self._keys(code, step)
            students, answered = pipe.hlen(seats).hlen(answers).execute()
        return dict(
            lesson=room["lesson"],
            step=step,
            revealed=room["revealed"] == "1",
            students=students,
            answered=answered,
            text=room.get("text", ""),
        )

    def answer_of(self, code: str, step: int, student: str) -> str | None:
        code, step, student = normal_code(code), check_step(step), check_student(student)
        self._room(code)
        with self._up():
            return self.db.hget(self._keys(code, step)[3], student)

    def set_text(self, code: str, text: str) -> None:
        code, text = normal_code(code), self._text(text)
        self._run(self._set, code, 0, "text", text)

    def set_teacher(self, code: str, token: str) -> None:
        code = normal_code(code)
        self._run(self._set, code, 0, "teacher", base.digest(token))

    def is_teacher(self, code: str, token: str) -> bool:
        teacher = self._room(normal_code(code)).get("teacher")
        return teacher is not None and isinstance(token, str) and teacher == base.digest(token)

    def close(self, code: str) -> None:
        code = normal_code(code)
        with self._up():
            room, gone, seats, _ = self._keys(code)
            steps = list(self.db.scan_iter(f"{room}:answers:*", count=1000))
            self.db.delete(room, gone, seats, *steps)
