"""prometheus_client.samples: ``Sample``, ``Exemplar`` and ``Timestamp``."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Exemplar", "Sample", "Timestamp"]


class Timestamp:
    """A timestamp with nanosecond resolution: whole seconds and nanoseconds.

    ``nsec`` must be in ``[0, 1e9)`` (``ValueError`` otherwise); for a
    negative ``sec`` the nanoseconds count away from zero too. ``str`` gives
    ``"<sec>.<9 digits>"`` (what OpenMetrics writes), ``float`` the seconds.
    Ordered and comparable for equality with other ``Timestamp`` objects.
    """

    __slots__ = ("nsec", "sec")

    def __init__(self, sec: float, nsec: float) -> None:
        if not 0 <= nsec < 1e9:
            raise ValueError(f"Invalid value for nanoseconds in Timestamp: {nsec}")
        if sec < 0:
            nsec = -nsec
        self.sec: int = int(sec)
        self.nsec: int = int(nsec)

    def __str__(self) -> str:
        return f"{self.sec}.{self.nsec:09d}"

    def __repr__(self) -> str:
        return f"Timestamp({self.sec}, {self.nsec})"

    def __float__(self) -> float:
        return float(self.sec) + float(self.nsec) / 1e9

    def _key(self) -> tuple[int, int]:
        return (self.sec, self.nsec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timestamp) and self._key() == other._key()

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self._key())

    def __gt__(self, other: Timestamp) -> bool:
        return self._key() > other._key()

    def __lt__(self, other: Timestamp) -> bool:
        return self._key() < other._key()


class Exemplar(NamedTuple):
    """An exemplar: its labels (trace ids, ...), the value, an optional timestamp."""

    labels: dict[str, str]
    value: float
    timestamp: float | Timestamp | None = None


class Sample(NamedTuple):
    """One exposed sample: full name, labels, value, timestamp, exemplar."""

    name: str
    labels: dict[str, str]
    value: float
    timestamp: float | Timestamp | None = None
    exemplar: Exemplar | None = None
