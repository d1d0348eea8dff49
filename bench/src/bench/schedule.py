"""When each request of an open-loop run is due.

The send times are fixed before the run starts and never move with the answers: a slow answer
does not delay the next send, so a stall shows up as latency instead of as fewer requests
(coordinated omission). Latency is measured from these times, not from when the send happened.
"""

from __future__ import annotations


def send_offsets(rate: float, seconds: float) -> list[float]:
    """Seconds after the start at which each request is due: evenly spaced at ``rate`` per second.

    ``rate * seconds`` requests (rounded down), the first at 0, all strictly before ``seconds``.
    """
    if rate <= 0:
        raise ValueError(f"rate must be positive, not {rate}")
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, not {seconds}")
    count = int(rate * seconds + 1e-9)
    return [index / rate for index in range(count)]
