"""A gateway's platform → terminal commands: which connection holds which terminal, the poll loop, the answers.

The queue itself is the ``terminal_command`` table (``fleet.tracks.commands``), written by any
process; the outbox polls it every ``command_poll_s`` for the terminals this gateway holds, marks
a command sent (with its serial) before writing its frame, so an answer never arrives before the
record it answers, and records the terminal's general answer (0x0001). A terminal is reachable
only after its authentication reply went out; when it authenticates again (a new connection) its
sent but unanswered commands are queued again.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.engine import Engine

from fleet.jt808.frame import Frame, encode_frame
from fleet.jt808.limits import Connection
from fleet.jt808.messages import GeneralReply
from fleet.jt808.platform import COMMAND_IDS, command_from_json, encode_command
from fleet.tracks.commands import (
    Command,
    due_commands,
    expire_commands,
    mark_failed,
    mark_sent,
    record_answer,
    requeue_unanswered,
)
from routing.errors import DecodeError, InvalidInputError

log = logging.getLogger(__name__)

EXPIRE_EVERY_S = 5.0  # how often the gateway marks commands past their expiry


class Outbox:
    """Commands of one gateway; ``sent`` and ``answered`` count them.

    Parameters
    ----------
    engine
        The service database holding the queue.
    poll_s
        Seconds between two looks at the queue.
    """

    def __init__(self, engine: Engine, *, poll_s: float) -> None:
        self._engine = engine
        self._poll_s = poll_s
        self._online: dict[str, tuple[asyncio.StreamWriter, Connection]] = {}  # phone → its connection
        self._task: asyncio.Task | None = None
        self.sent = 0
        self.answered = 0

    def start(self) -> None:
        """Start polling the queue (inside the gateway's event loop)."""
        self._task = asyncio.create_task(self._run())

    def stop(self) -> None:
        """Stop polling; commands not sent yet stay queued for another gateway or the next start."""
        if self._task is not None:
            self._task.cancel()

    async def authenticated(self, connection: Connection, frame: Frame, phone: str) -> None:
        """Remember how to address the terminal (its header), queue its unanswered commands again."""
        connection.addresses[phone] = (frame.phone, frame.version, frame.protocol_version or 1)
        await asyncio.to_thread(requeue_unanswered, self._engine, phone=phone)

    def reachable(self, writer: asyncio.StreamWriter, connection: Connection) -> None:
        """After a read's replies went out: this connection is where its authenticated terminals' commands go."""
        for phone in connection.authenticated:
            if self._online.get(phone, (None,))[0] is not writer:
                self._online[phone] = (writer, connection)

    def gone(self, connection: Connection, phones: set[str]) -> None:
        """The terminals of a closed connection (or one logging out) are no longer reachable through it."""
        for phone in phones:
            if self._online.get(phone, (None, None))[1] is connection:
                del self._online[phone]

    async def answer(self, connection: Connection, phone: str, answer: GeneralReply) -> None:
        """Record an authenticated terminal's 0x0001 against the command it acknowledges (others are ignored)."""
        if phone not in connection.authenticated or answer.ack_msg_id not in COMMAND_IDS:
            return
        found = await asyncio.to_thread(
            record_answer,
            self._engine,
            phone=phone,
            serial=answer.ack_serial,
            msg_id=answer.ack_msg_id,
            result=answer.result,
        )
        self.answered += found is not None

    async def _run(self) -> None:
        """Every ``poll_s``: send the queued commands of the terminals held here; now and then expire old ones."""
        expire_every = max(1, round(EXPIRE_EVERY_S / self._poll_s))
        polls = 0
        while True:
            await asyncio.sleep(self._poll_s)
            polls += 1
            try:
                if polls % expire_every == 0:
                    await asyncio.to_thread(expire_commands, self._engine)
                if self._online:
                    due = await asyncio.to_thread(due_commands, self._engine, phones=set(self._online))
                    for command in due:
                        await self._send(command)
            except Exception:  # the database away for a moment: try again at the next poll
                log.exception("sending queued terminal commands failed")

    async def _send(self, command: Command) -> None:
        """Encode one queued command for its terminal's protocol version, mark it sent, write it."""
        entry = self._online.get(command.phone)
        if entry is None or entry[0].is_closing():
            return
        writer, connection = entry
        phone_bcd, version, protocol_version = connection.addresses[command.phone]
        try:
            body = encode_command(command_from_json(command.msg_id, command.body), version=version)
        except (InvalidInputError, DecodeError) as error:
            note = f"无法编码 / cannot encode for a {version} terminal: {error}"
            await asyncio.to_thread(mark_failed, self._engine, command_id=command.id, note=note)
            return
        serial = connection.next_serial()
        if not await asyncio.to_thread(mark_sent, self._engine, command_id=command.id, serial=serial):
            return  # expired or taken meanwhile
        writer.write(
            encode_frame(
                msg_id=command.msg_id,
                phone=phone_bcd,
                serial=serial,
                body=body,
                version=version,
                protocol_version=protocol_version,
            )
        )
        self.sent += 1
