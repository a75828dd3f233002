"""The JT/T 808 TCP gateway (asyncio): registers and authenticates terminals, stores positions.

Delivery is at-least-once with idempotent storage. A location (0x0200) or batch
(0x0704) is answered 0x8001 "success" only after its rows are committed; if the
gateway dies first the terminal gets no reply, keeps the points in its blind-area
memory and re-sends them, and the (phone, GPS time) key drops the copies. Frames of
one read are decoded together and their rows committed in one go before the replies
go out, in frame order.

Terminals must register (0x0100 → 0x8100 with an auth code) and authenticate
(0x0102 → 0x8001) on each connection before their positions are accepted; earlier
positions are answered "failed" (result 1), which makes the terminal keep them.
A phone already bound to a code is refused (0x8100 result 3, no code) until a
supervisor unbinds it (``qingyun jt808 unbind``): nobody learns another terminal's code.
In allow-list mode (``registration="allow-list"``) only phones a supervisor listed
(``qingyun jt808 bind``) register: others get result 4, a listed phone with another plate result 2.
Platform → terminal commands (text 0x8300, areas 0x8602/0x8604, route 0x8606) are queued in the
database by any process; the gateway's :class:`~fleet.jt808.outbox.Outbox` sends those of the
terminals it holds and records their general answers (0x0001).
In open mode registrations of never-seen phones are rate-limited per client address
(``trusted_addresses``, by default this host, are exempt from the per-address limits).
Bad frames are counted and, when the header is readable, answered with result 2;
the connection stays open. Resource limits close a connection at once, logged with the
limit's name, after the positions of its last read are committed and answered: connections
per address and in total, an over-long frame before authentication, the byte budget of an
unfinished frame plus buffered subpackage parts, no complete frame for ``idle_timeout_s``
(a trickle of bytes does not count) and a frame unfinished after ``frame_deadline_s``.
Committed positions then go to the live path's sink (``fleet.supervise.live``), which only queues
them: the rule engine never delays a reply.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from fleet.jt808.frame import Frame, FrameSplitter, decode_escaped, encode_frame, peek_header
from fleet.jt808.limits import Connection, Limits
from fleet.jt808.location import Location, decode_location
from fleet.jt808.messages import (
    AUTHENTICATE,
    BATCH,
    HEARTBEAT,
    LOCATION,
    LOGOUT,
    MEDIA_EVENT,
    PLATFORM_REPLY,
    REGISTER,
    REGISTER_ALREADY_REGISTERED,
    REGISTER_REPLY,
    REGISTER_TERMINAL_UNKNOWN,
    REGISTER_VEHICLE_UNKNOWN,
    RESULT_BAD_MESSAGE,
    RESULT_FAILED,
    RESULT_OK,
    RESULT_UNSUPPORTED,
    TERMINAL_REPLY,
    GeneralReply,
    RegisterReply,
    decode_body,
    encode_body,
)
from fleet.jt808.outbox import Outbox
from fleet.jt808.settings import GatewaySettings
from fleet.jt808.writer import PositionWriter
from fleet.tracks.store import authenticate_terminal, normalise_phone, register_terminal
from routing.errors import ConflictError, DecodeError, InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from fleet.supervise.live import PositionSink

log = logging.getLogger(__name__)

# what a reply needs: msg id, phone, serial, version, result (None: the commit's), protocol version
_Answer = tuple[int, str, int, str, int | None, int]


@dataclass
class GatewayStats:
    connections: int = 0
    open_connections: int = 0
    frames: int = 0
    bad_frames: int = 0
    positions_accepted: int = 0
    positions_refused: int = 0
    registrations: int = 0
    registrations_refused: int = 0
    authentications: int = 0
    idle_closed: int = 0
    connections_refused: int = 0
    limit_closed: int = 0


def position_row(
    phone: str, location: Location, *, received_at: datetime, blind_area: bool, items: bytes | None = None
) -> tuple:
    """The ``position`` table row (``POSITION_COLUMNS`` order) of a decoded location.

    ``items``: the raw additional-item bytes when the caller has them (saves re-encoding).

    Parameters
    ----------
    phone
        Terminal phone (the row's key).
    location
        The decoded 0x0200 location.
    received_at
        When the platform received the frame (aware datetime).
    blind_area
        Whether the fix arrived in a blind-area batch (0x0704 type 1).
    items
        The raw additional-item bytes, or None to re-encode them from ``location``.

    Returns
    -------
    tuple
        Values in ``POSITION_COLUMNS`` order; mileage (km) from item 0x01, else None.
    """
    mileage = location.items.get(0x01)
    if items is None:
        items = location.items_bytes()
    return (
        phone,
        location.time,
        received_at,
        location.lat,
        location.lon,
        location.altitude_m,
        location.speed_kmh,
        location.heading,
        location.alarm,
        location.status,
        int.from_bytes(mileage, "big") / 10 if mileage is not None and len(mileage) == 4 else None,
        blind_area,
        items.hex(),
    )


class Gateway:
    """Run with ``await gateway.start()``; ``await gateway.stop()`` flushes every accepted position.

    ``sink``: where committed positions go for live supervision (None: they are only stored); closed on stop.
    """

    def __init__(self, engine: Engine, settings: GatewaySettings, *, sink: PositionSink | None = None) -> None:
        self.settings = settings
        self.sink = sink
        if sink is not None:
            import fleet.supervise.engine  # noqa: F401  (numpy and the rules loaded now, not on the loop at the first fix)
        self.stats = GatewayStats()
        self._engine = engine
        self._writer = PositionWriter(
            engine, max_batch_rows=self.settings.max_batch_rows, gather_s=self.settings.batch_gather_s
        )
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._connections: dict[asyncio.StreamWriter, Connection] = {}
        self._limits = Limits(settings)
        self._sweeper: asyncio.Task | None = None
        self.commands = Outbox(engine, poll_s=settings.command_poll_s)
        self._stopping = False

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        return self._server.sockets[0].getsockname()[1]

    @property
    def rows_written(self) -> int:
        return self._writer.stats.rows_written

    async def start(self) -> None:
        self._writer.start()
        self._server = await asyncio.start_server(
            self._handle, self.settings.host, self.settings.port, limit=self.settings.read_size
        )
        self._sweeper = asyncio.create_task(self._close_idle())
        self.commands.start()
        log.info("JT/T 808 gateway listening on %s:%d", self.settings.host, self.port)

    async def stop(self) -> None:
        """Stop accepting, close connections, then commit everything already accepted."""
        started = time.perf_counter()
        self._stopping = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        self.commands.stop()
        if self._server is not None:
            self._server.close()
        for stream in list(self._connections):
            stream.transport.abort()  # no more reads; replies not yet sent are simply not sent
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        await asyncio.to_thread(self._writer.close)
        if self.sink is not None:
            await asyncio.to_thread(self.sink.close)
        log.info("gateway stopped in %.2f s, %d positions written", time.perf_counter() - started, self.rows_written)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        peer = writer.get_extra_info("peername")
        address = str(peer[0]) if peer else "?"
        refusal = self._limits.refusal(address, open_connections=len(self._connections))
        if refusal is not None:
            self.stats.connections_refused += 1
            self._limits.log(refusal, f"connection from {address} closed: {refusal}")
            writer.transport.abort()
            return
        task = asyncio.current_task()
        self._tasks.add(task)
        now = loop.time()
        connection = Connection(address, FrameSplitter(max_frame=self.settings.max_frame_bytes), now)
        self._connections[writer] = connection
        self._limits.opened(address)
        self.stats.connections += 1
        self.stats.open_connections += 1
        try:
            while True:
                data = await reader.read(self.settings.read_size)
                if not data:
                    break
                replies = await self._process(connection, data)
                if self._stopping:
                    break
                if replies:
                    writer.write(b"".join(replies))
                    await writer.drain()
                self.commands.reachable(writer, connection)  # commands go out only after the authentication reply
                if connection.close_reason is not None:
                    self.stats.limit_closed += 1
                    self._limits.log(
                        connection.close_reason, f"connection from {address} closed: {connection.close_reason}"
                    )
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:  # a bug must cost one connection, never the server
            log.exception("connection handler failed")
        finally:
            self.stats.open_connections -= 1
            self._tasks.discard(task)
            self._connections.pop(writer, None)
            self.commands.gone(connection, connection.authenticated)
            self._limits.closed(address)
            connection.splitter.clear()
            connection.reassembler.clear()
            writer.close()

    async def _close_idle(self) -> None:
        """Close connections without a complete frame for ``idle_timeout_s`` or with a frame past its deadline.

        One sweeper, no timer per read; only decoded frames reset the idle clock, so a trickle of
        bytes cannot keep a connection open.
        """
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._limits.sweep_interval_s)
            now = loop.time()
            for stream, connection in list(self._connections.items()):
                reason = self._limits.expired(connection, now)
                if reason is None:
                    continue
                if reason.startswith("idle"):
                    self.stats.idle_closed += 1
                else:
                    self.stats.limit_closed += 1
                self._limits.log(reason, f"connection from {connection.address} closed: {reason}")
                stream.close()

    async def _process(self, connection: Connection, data: bytes) -> list[bytes]:
        """Decode a read's frames, commit their positions, return replies in frame order.

        Replies are built last so their platform serials follow the frame order; a
        location's result is that of the commit of this read's rows. Once a limit marks the
        connection for closing, the read's later frames are neither processed nor answered.
        """
        frames = self._split(connection, data)
        answers: list[_Answer] = []
        registered: dict[int, bytes] = {}  # answer index → 0x8100 body
        rows: list[tuple] = []
        received_at = datetime.now(UTC)
        for escaped in frames:
            if connection.close_reason is not None:
                break
            self.stats.frames += 1
            try:
                await self._frame(
                    connection, escaped, answers=answers, registered=registered, rows=rows, at=received_at
                )
            except DecodeError as error:
                self.stats.bad_frames += 1
                log.debug("bad frame: %s", error)
                header = peek_header(escaped)
                if header is not None and not header[0] & 0x8000:
                    answers.append((*header, RESULT_BAD_MESSAGE, 1))
        stored = RESULT_OK
        if rows:
            try:
                await self._writer.write(rows)
                self.stats.positions_accepted += len(rows)
            except Exception as error:  # the database refused the data (not: unreachable, that retries)
                log.error("positions refused by the database: %s", error)
                self.stats.positions_refused += len(rows)
                stored = RESULT_FAILED
            else:
                _to_sink(self.sink, rows, received_at)
        return _replies(connection, answers, registered=registered, stored=stored)

    def _split(self, connection: Connection, data: bytes) -> list[bytes]:
        """The read's complete frames; starts the frame deadline's clock and applies the pre-auth frame limit."""
        overflows = connection.splitter.overflows
        frames, junk = connection.splitter.feed(data)
        self.stats.bad_frames += len(junk)
        self._limits.after_read(
            connection,
            frames,
            overflowed=connection.splitter.overflows > overflows,
            now=asyncio.get_running_loop().time(),
        )
        return frames

    async def _frame(
        self,
        connection: Connection,
        escaped: bytes,
        *,
        answers: list[_Answer],
        registered: dict[int, bytes],
        rows: list[tuple],
        at: datetime,
    ) -> None:
        """Handle one frame: add its answer (and its rows, its 0x8100 body) to the read's lists."""
        frame = decode_escaped(escaped)
        connection.last_frame = asyncio.get_running_loop().time()
        if frame.subpackage is not None:
            complete = connection.reassembler.add(frame)
            if self._limits.over_budget(connection):
                return
            if complete is None:
                answers.append(_answer(frame, RESULT_OK))
                return
            frame = complete  # answered as the whole message, with the last part's serial
        if frame.msg_id in (LOCATION, BATCH):
            phone = normalise_phone(frame.phone)
            if phone not in connection.authenticated:
                answers.append(_answer(frame, RESULT_FAILED))
                return
            rows.extend(_frame_rows(frame, phone=phone, received_at=at))
            answers.append(_answer(frame, None))
        elif frame.msg_id == REGISTER:
            body = await self._register(connection, frame)
            if body is not None:
                registered[len(answers)] = body
                answers.append(_answer(frame, RESULT_OK))
        else:
            result = await self._control(connection, frame)
            if result is not None:
                answers.append(_answer(frame, result))

    async def _register(self, connection: Connection, frame: Frame) -> bytes | None:
        """Bind the terminal; the 0x8100 body: its new auth code or a refusal's result (None: rate-limited, close).

        Allow-list mode: an unlisted phone gets result 4, a listed phone registering another
        plate result 2. Open mode: a never-seen phone creates a terminal row only while its
        client address is within ``new_phone_registrations_per_min``.
        """
        registration = decode_body(frame)
        fields = {
            name: getattr(registration, name)
            for name in ("plate", "plate_color", "province", "city", "maker", "model", "terminal_id")
        }
        fields["protocol"] = registration.layout
        phone = normalise_phone(frame.phone)
        listed = self.settings.registration == "allow-list"
        bind = partial(register_terminal, self._engine, phone=phone, registration=fields, listed_only=listed)
        result, code = 0, None
        try:
            try:
                code = await asyncio.to_thread(bind, new_phones=False)
            except NotFoundError:
                if listed:
                    raise
                now = asyncio.get_running_loop().time()
                if not self._limits.may_register_new_phone(connection.address, now):
                    self.stats.registrations_refused += 1
                    per_minute = self.settings.new_phone_registrations_per_min
                    connection.close_reason = (
                        f"new_phone_registrations_per_min {per_minute}: never-seen phone {phone} refused"
                    )
                    return None
                code = await asyncio.to_thread(bind, new_phones=True)
        except ConflictError:
            result = REGISTER_ALREADY_REGISTERED
        except NotFoundError:
            result = REGISTER_TERMINAL_UNKNOWN
        except InvalidInputError:
            result = REGISTER_VEHICLE_UNKNOWN
        if code is None:
            log.warning("registration of terminal %s refused with result %d", phone, result)
            self.stats.registrations_refused += 1
            return encode_body(RegisterReply(ack_serial=frame.serial, result=result))
        self.stats.registrations += 1
        return encode_body(RegisterReply(ack_serial=frame.serial, result=0, auth_code=code))

    async def _control(self, connection: Connection, frame: Frame) -> int | None:
        """Authentication, heartbeat, logout and the rest: the 0x8001 result, None for no reply."""
        phone = normalise_phone(frame.phone)
        if frame.msg_id == AUTHENTICATE:
            authentication = decode_body(frame)
            code = authentication.auth_code
            if not await asyncio.to_thread(authenticate_terminal, self._engine, phone=phone, code=code):
                return RESULT_FAILED
            connection.authenticated.add(phone)
            self.stats.authentications += 1
            await self.commands.authenticated(connection, frame, phone)
            return RESULT_OK
        if frame.msg_id == LOGOUT:
            decode_body(frame)
            connection.authenticated.discard(phone)
            self.commands.gone(connection, {phone})
            return RESULT_OK
        if frame.msg_id in (HEARTBEAT, MEDIA_EVENT):
            decode_body(frame)
            return RESULT_OK
        if frame.msg_id == TERMINAL_REPLY or frame.msg_id & 0x8000:
            body = decode_body(frame)
            if frame.msg_id == TERMINAL_REPLY:
                await self.commands.answer(connection, phone, body)  # recorded when it answers a command
            return None  # answers to us, or platform messages a terminal should not send
        return RESULT_UNSUPPORTED


def _replies(
    connection: Connection, answers: list[_Answer], *, registered: dict[int, bytes], stored: int
) -> list[bytes]:
    """The reply frames of a read's answers, in order, with the connection's next serials.

    ``registered`` maps answer indexes to their 0x8100 bodies; an answer without a result of its
    own (a location) gets ``stored``, the result of committing the read's rows.
    """
    replies = []
    for index, (msg_id, phone, serial, version, result, protocol_version) in enumerate(answers):
        if index in registered:
            reply_id, body = REGISTER_REPLY, registered[index]
        else:
            reply_id = PLATFORM_REPLY
            body = encode_body(
                GeneralReply(ack_serial=serial, ack_msg_id=msg_id, result=stored if result is None else result)
            )
        replies.append(
            encode_frame(
                msg_id=reply_id,
                phone=phone,
                serial=connection.next_serial(),
                body=body,
                version=version,
                protocol_version=protocol_version,
            )
        )
    return replies


def _to_sink(sink: PositionSink | None, rows: list[tuple], received_at: datetime) -> None:
    """Hand committed rows to the live path; its failure costs their live judgement, never the reply."""
    if sink is None:
        return
    from fleet.supervise.live import fixes_of_rows

    try:
        sink.accept(fixes_of_rows(rows), received_at=received_at.timestamp())
    except Exception:
        log.exception("live path refused %d positions (they are stored)", len(rows))


def _frame_rows(frame: Frame, *, phone: str, received_at: datetime) -> list[tuple]:
    """The position rows of a location (0x0200) or batch (0x0704) frame of an authenticated terminal."""
    if frame.msg_id == LOCATION:
        location = decode_location(frame.body, error_at=frame.error)
        return [position_row(phone, location, received_at=received_at, blind_area=False, items=frame.body[28:])]
    batch = decode_body(frame)
    blind = batch.type == 1
    return [position_row(phone, location, received_at=received_at, blind_area=blind) for location in batch.positions]


def _answer(frame: Frame, result: int | None) -> _Answer:
    """What a reply needs from the frame it answers (result None: the commit's result)."""
    return frame.msg_id, frame.phone, frame.serial, frame.version, result, frame.protocol_version or 1
