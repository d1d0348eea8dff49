"""Injected faults in Redis: one hash every web worker reads on each call."""

import redis

from psp_simulator.adapters.redis_keys import KeySpace
from psp_simulator.adapters.redis_records import hash_mapping, text_fields
from psp_simulator.domain.faults import Faults


class RedisFaultStore:
    def __init__(self, client: redis.Redis, keys: KeySpace) -> None:
        self._client = client
        self._key = keys.faults()

    def get(self) -> Faults | None:
        fields = text_fields(self._client.hgetall(self._key))
        if not fields:
            return None
        return Faults(
            latency_ms=int(fields["latency_ms"]),
            error_rate=float(fields["error_rate"]),
            down=fields["down"] == "1",
        )

    def put(self, faults: Faults) -> None:
        mapping = {
            "latency_ms": str(faults.latency_ms),
            "error_rate": repr(faults.error_rate),
            "down": "1" if faults.down else "0",
        }
        with self._client.pipeline(transaction=True) as pipe:
            pipe.delete(self._key)
            pipe.hset(self._key, mapping=hash_mapping(mapping))
            pipe.execute()

    def clear(self) -> None:
        self._client.delete(self._key)
