"""Injected faults in Redis: one hash every web worker reads on each call.

The hang budget is a counter of its own, taken one call at a time by whichever worker gets
there first, and a second counter tells how many calls are hanging right now.
"""

from typing import Final

import redis

from psp_simulator.adapters.redis_keys import KeySpace
from psp_simulator.adapters.redis_records import hash_mapping, text_fields
from psp_simulator.domain.faults import Faults

# Takes one from the budget if any is left; 1 when taken.
_TAKE_ONE: Final = """
local left = tonumber(redis.call('GET', KEYS[1]) or '0')
if left > 0 then
  redis.call('DECR', KEYS[1])
  return 1
end
return 0
"""


class RedisFaultStore:
    def __init__(self, client: redis.Redis, keys: KeySpace) -> None:
        self._client = client
        self._key = keys.faults()
        self._hangs_left = f"{self._key}:hangs_left"
        self._hanging = f"{self._key}:hanging"
        self._take_one = client.register_script(_TAKE_ONE)

    def get(self) -> Faults | None:
        fields = text_fields(self._client.hgetall(self._key))
        if not fields:
            return None
        return Faults(
            latency_ms=int(fields["latency_ms"]),
            error_rate=float(fields["error_rate"]),
            down=fields["down"] == "1",
            silent=fields.get("silent") == "1",
            hang_ms=int(fields.get("hang_ms", "0")),
            hang_calls=int(fields.get("hang_calls", "0")),
            hang_payment_method=fields.get("hang_payment_method") or None,
        )

    def put(self, faults: Faults) -> None:
        mapping = {
            "latency_ms": str(faults.latency_ms),
            "error_rate": repr(faults.error_rate),
            "down": "1" if faults.down else "0",
            "silent": "1" if faults.silent else "0",
            "hang_ms": str(faults.hang_ms),
            "hang_calls": str(faults.hang_calls),
            "hang_payment_method": faults.hang_payment_method or "",
        }
        with self._client.pipeline(transaction=True) as pipe:
            pipe.delete(self._key)
            pipe.hset(self._key, mapping=hash_mapping(mapping))
            pipe.set(self._hangs_left, faults.hang_calls)
            pipe.execute()

    def clear(self) -> None:
        self._client.delete(self._key, self._hangs_left)

    def take_hang(self) -> bool:
        return bool(self._take_one(keys=[self._hangs_left]))

    def hang_started(self) -> None:
        self._client.incr(self._hanging)

    def hang_ended(self) -> None:
        self._client.decr(self._hanging)

    def hang_counts(self) -> tuple[int, int]:
        left, hanging = self._client.mget(self._hangs_left, self._hanging)
        return int(left or 0), int(hanging or 0)
