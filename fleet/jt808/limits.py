"""The gateway's resource limits: connection caps, byte budgets, the new-phone rate limit, their log.

A limit never answers with a made-up JT/T 808 result: the connection is closed, and the log
line names the setting (``QINGYUN_JT808_<NAME>``) that closed it. Floods are logged once a
second per limit so that they cannot flood the log as well.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

from fleet.jt808.frame import FrameSplitter, Reassembler
from fleet.jt808.settings import GatewaySettings

log = logging.getLogger(__name__)


@dataclass
class Connection:
    """Per-connection state: stream splitter, authenticated phones, platform serials, limits' clocks."""

    address: str
    splitter: FrameSplitter
    last_frame: float  # loop time of the last frame that decoded: the idle clock
    reassembler: Reassembler = field(default_factory=Reassembler)
    authenticated: set[str] = field(default_factory=set)
    addresses: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # phone → header (BCD, version, protocol)
    serial: int = 0
    frame_started: float | None = None  # loop time the unfinished frame began
    close_reason: str | None = None  # set by a limit: close once this read is answered

    def next_serial(self) -> int:
        """The platform serial of the next reply on this connection."""
        serial = self.serial
        self.serial = (serial + 1) & 0xFFFF
        return serial


class RateLimit:
    """A token bucket per client address: ``per_minute`` events a minute, bursts of as many."""

    def __init__(self, per_minute: int) -> None:
        self._rate = per_minute / 60
        self._burst = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._swept_at = -math.inf

    def allow(self, address: str, now: float) -> bool:
        """Take a token for ``address`` if one is left."""
        tokens, stamp = self._buckets.get(address, (self._burst, now))
        tokens = min(self._burst, tokens + (now - stamp) * self._rate)
        # Forget addresses whose buckets refilled, at most once per refill time: a flood from many
        # addresses then costs one scan a minute, not one per call.
        if len(self._buckets) > 10_000 and now - self._swept_at >= self._burst / self._rate:
            self._swept_at = now
            full = [a for a, (t, at) in self._buckets.items() if t + (now - at) * self._rate >= self._burst]
            for key in full:
                del self._buckets[key]
        if tokens < 1:
            self._buckets[address] = (tokens, now)
            return False
        self._buckets[address] = (tokens - 1, now)
        return True


class Limits:
    """The limits of one gateway, from its settings; the gateway asks before it accepts or buffers."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self._per_address: dict[str, int] = {}
        self._new_phones = RateLimit(settings.new_phone_registrations_per_min)
        self._trusted = frozenset(settings.trusted_addresses)
        self._logged: dict[str, float] = {}  # limit → when it was last logged

    def refusal(self, address: str, *, open_connections: int) -> str | None:
        """The cap a new connection from ``address`` would exceed (named), or None to accept it."""
        if open_connections >= self.settings.max_connections:
            return f"max_connections {self.settings.max_connections} open in total"
        if address in self._trusted:
            return None
        if self._per_address.get(address, 0) >= self.settings.max_connections_per_address:
            return f"max_connections_per_address {self.settings.max_connections_per_address} open from {address}"
        return None

    def opened(self, address: str) -> None:
        """Count a connection accepted from ``address``."""
        self._per_address[address] = self._per_address.get(address, 0) + 1

    def closed(self, address: str) -> None:
        """Count a connection from ``address`` gone."""
        left = self._per_address.pop(address) - 1
        if left:
            self._per_address[address] = left

    def may_register_new_phone(self, address: str, now: float) -> bool:
        """Whether ``address`` may create one more terminal row now (trusted addresses always may)."""
        return address in self._trusted or self._new_phones.allow(address, now)

    def over_budget(self, connection: Connection) -> bool:
        """Whether the connection holds more than its byte budget; if so drop its buffers and mark it for closing."""
        held = connection.splitter.pending + connection.reassembler.pending_bytes
        if connection.authenticated:
            which, budget = "buffer_bytes", self.settings.buffer_bytes
        else:
            which, budget = "preauth_buffer_bytes", self.settings.preauth_buffer_bytes
        if held <= budget:
            return False
        connection.close_reason = f"{which} {budget}: {held} bytes of unfinished frames and subpackage parts"
        connection.splitter.clear()
        connection.reassembler.clear()
        return True

    def after_read(self, connection: Connection, frames: list[bytes], *, overflowed: bool, now: float) -> None:
        """Start or stop the frame deadline's clock; before authentication apply the frame and byte limits.

        Parameters
        ----------
        connection
            The connection just read from (its splitter has been fed).
        frames
            The read's complete escaped frames.
        overflowed
            Whether the splitter dropped an unfinished frame longer than ``max_frame_bytes``.
        now
            Loop time.
        """
        if not connection.splitter.pending:
            connection.frame_started = None
        elif frames or connection.frame_started is None:
            connection.frame_started = now
        if connection.authenticated:
            return
        limit = self.settings.max_frame_bytes
        if overflowed or any(len(escaped) > limit for escaped in frames):
            connection.close_reason = f"max_frame_bytes {limit}: a longer frame before authentication"
            connection.splitter.clear()
            connection.reassembler.clear()
        else:
            self.over_budget(connection)

    @property
    def sweep_interval_s(self) -> float:
        """How often :meth:`expired` is asked: a quarter of the shorter clock, at most 5 s."""
        return min(self.settings.idle_timeout_s / 4, self.settings.frame_deadline_s / 4, 5.0)

    def expired(self, connection: Connection, now: float) -> str | None:
        """The clock that ran out (named), or None; a connection is reported once.

        Only decoded frames reset the idle clock (``last_frame``), so a trickle of bytes cannot keep a
        connection open; a frame begun must complete within ``frame_deadline_s``.
        """
        idle, deadline = self.settings.idle_timeout_s, self.settings.frame_deadline_s
        if now - connection.last_frame > idle:
            reason = f"idle_timeout_s {idle:g}: no complete frame"
        elif connection.frame_started is not None and now - connection.frame_started > deadline:
            reason = f"frame_deadline_s {deadline:g}: a frame still unfinished"
        else:
            return None
        connection.last_frame, connection.frame_started = float("inf"), None  # report once
        return reason

    def log(self, limit: str, message: str) -> None:
        """Log a limit's refusal, at most once a second per limit (a flood must not flood the log)."""
        key = limit.split(" ", 1)[0]
        now = time.monotonic()
        if now - self._logged.get(key, -2.0) >= 1.0:
            self._logged[key] = now
            log.warning("%s", message)
