"""Talking back to terminals over real sockets: text (0x8300) and route (0x8606) pushed, answers (0x0001) recorded.

A raw TCP client plays the terminal against a running Gateway; commands are queued in the
database as the CLI and the API queue them (another process, as far as the gateway knows).
Expected command frames are built with the tests' independent encoder (``frame``).
"""

from __future__ import annotations

import asyncio
import struct
import time

from fleet.jt808.geofence import queue_for_terminal, route_command
from fleet.jt808.platform import TextMessage
from fleet.tracks.commands import ANSWERED, EXPIRED, SENT, get_command, list_commands
from tests.fleet.jt808.test_gateway import PHONE, Client, frame, registration_body, reply_8001, started
from tests.fleet.jt808.test_identity import register

KEY = PHONE.lstrip("0")
TEXT = "请返回核准路线"
POLL = dict(command_poll_s=0.05)


def text_frame(serial: int, text: str = TEXT, flags: int = 0x0C) -> bytes:
    """0x8300 as a 2013 terminal must receive it: flags (display + TTS), GBK text."""
    return frame(0x8300, PHONE, serial, bytes((flags,)) + text.encode("gbk"))


def answer(serial: int, ack_serial: int, ack_id: int, result: int) -> bytes:
    """The terminal's general answer 0x0001."""
    return frame(0x0001, PHONE, serial, struct.pack(">HHB", ack_serial, ack_id, result))


async def authenticated(port: int, code: bytes | None = None) -> tuple[Client, bytes]:
    """A terminal connected and authenticated (registering first when it has no code yet)."""
    client = await Client.connect(port)
    serial = 2
    if code is None:
        _, code = await register(client, 1, registration_body())
        auth_reply = reply_8001(PHONE, 1, 2, 0x0102, 0)
    else:
        auth_reply = reply_8001(PHONE, 0, 2, 0x0102, 0)
    await client.send(frame(0x0102, PHONE, serial, code))
    assert await client.frames(1) == [auth_reply]
    return client, code


async def wait_state(engine, command_id: int, state: str, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        command = await asyncio.to_thread(get_command, engine, command_id=command_id)
        if command.state == state or time.monotonic() > deadline:
            return command
        await asyncio.sleep(0.02)


def queue_text(engine, text: str = TEXT, expires_s: float = 600.0):
    return queue_for_terminal(engine, phone=PHONE, body=TextMessage(text=text), summary=text, expires_s=expires_s)


def test_text_reaches_a_connected_terminal_and_its_answer_is_recorded(engine) -> None:
    async def scenario():
        gateway = await started(engine, **POLL)
        client, _ = await authenticated(gateway.port)
        queued_at = time.monotonic()
        command = await asyncio.to_thread(queue_text, engine)
        (received,) = await client.frames(1)
        latency = time.monotonic() - queued_at
        assert received == text_frame(2)  # serials: 0x8100 = 0, auth reply = 1, the command = 2
        assert (await wait_state(engine, command.id, SENT)).serial == 2
        await client.send(answer(3, 2, 0x8300, 0))
        answered = await wait_state(engine, command.id, ANSWERED)
        await client.close()
        await gateway.stop()
        return latency, answered, gateway.commands

    latency, answered, stats = asyncio.run(scenario())
    assert latency < 3.0  # polled every 50 ms; generous margin for two busy cores
    assert (answered.state, answered.result, answered.serial) == (ANSWERED, 0, 2)
    assert answered.answered_at >= answered.sent_at >= answered.created_at
    assert (stats.sent, stats.answered) == (1, 1)


def test_route_push_is_sent_as_0x8606_and_not_supported_is_recorded(engine) -> None:
    line = [[114.0500, 22.5400], [114.0550, 22.5400], [114.0600, 22.5400], [114.0600, 22.5450]]

    async def scenario():
        gateway = await started(engine, **POLL)
        client, _ = await authenticated(gateway.port)
        route = route_command(line, corridor_m=50, route_id=77, name="P-1")
        command = await asyncio.to_thread(
            queue_for_terminal, engine, phone=KEY, body=route, summary="permit P-1", expires_s=60
        )
        (received,) = await client.frames(1)
        await client.send(answer(3, 2, 0x8606, 3))  # this terminal does not support routes
        answered = await wait_state(engine, command.id, ANSWERED)
        await client.close()
        await gateway.stop()
        return received, answered

    received, answered = asyncio.run(scenario())
    # the straight middle point is dropped: three turning points, each segment 100 m wide, leave-route alarms
    points = [(114.0500, 22.5400), (114.0600, 22.5400), (114.0600, 22.5450)]
    body = struct.pack(">IHH", 77, 0x0030, 3) + b"".join(
        struct.pack(">IIIIBB", n, n, round(lat * 1e6), round(lon * 1e6), 100, 0)
        for n, (lon, lat) in enumerate(points, 1)
    )
    assert received == frame(0x8606, PHONE, 2, body)
    assert (answered.state, answered.result) == (ANSWERED, 3)
    assert answered.outcome == "answered: 3 不支持 not supported"


def test_offline_terminal_gets_its_command_after_authenticating_and_stale_ones_expire(engine) -> None:
    async def first_session() -> bytes:
        gateway = await started(engine, **POLL)
        client, code = await authenticated(gateway.port)
        await client.close()
        await gateway.stop()
        return code

    code = asyncio.run(first_session())
    stale = queue_text(engine, "旧消息", expires_s=0.2)
    waiting = queue_text(engine)
    time.sleep(0.4)  # the stale one's expiry passes while the terminal is offline

    async def second_session():
        gateway = await started(engine, **POLL)
        client, _ = await authenticated(gateway.port, code)
        frames = await client.frames(1)
        await client.send(answer(3, 1, 0x8300, 0))
        answered = await wait_state(engine, waiting.id, ANSWERED)
        await client.close()
        await gateway.stop()
        return frames, answered

    frames, answered = asyncio.run(second_session())
    assert frames == [text_frame(1)]  # only the live one, after the authentication reply (serial 0)
    assert answered.state == ANSWERED
    states = {command.id: command.state for command in list_commands(engine, phone=KEY)}
    assert states == {stale.id: EXPIRED, waiting.id: ANSWERED}


def test_an_unanswered_command_is_sent_again_when_the_terminal_comes_back(engine) -> None:
    async def scenario():
        gateway = await started(engine, **POLL)
        client, code = await authenticated(gateway.port)
        command = await asyncio.to_thread(queue_text, engine)
        first = await client.frames(1)
        await client.close()  # gone before answering
        await asyncio.sleep(0.1)
        assert (await wait_state(engine, command.id, SENT)).state == SENT
        again, _ = await authenticated(gateway.port, code)
        second = await again.frames(1)
        await again.send(answer(3, 1, 0x8300, 0))
        answered = await wait_state(engine, command.id, ANSWERED)
        await again.close()
        await gateway.stop()
        return first, second, answered

    first, second, answered = asyncio.run(scenario())
    assert first == [text_frame(2)]
    assert second == [text_frame(1)]  # a new connection: the platform's serials start again
    assert (answered.state, answered.serial, answered.result) == (ANSWERED, 1, 0)


def test_answers_that_match_no_command_change_nothing(engine) -> None:
    async def scenario():
        gateway = await started(engine, **POLL)
        client, _ = await authenticated(gateway.port)
        command = await asyncio.to_thread(queue_text, engine)
        await client.frames(1)
        # wrong serial, wrong message id: not this command's answer; then a heartbeat still works
        await client.send(answer(3, 9, 0x8300, 0) + answer(4, 2, 0x8606, 0) + frame(0x0002, PHONE, 5, b""))
        assert await client.frames(1) == [reply_8001(PHONE, 3, 5, 0x0002, 0)]
        state = await wait_state(engine, command.id, ANSWERED, timeout=0.3)
        await client.close()
        await gateway.stop()
        return state

    assert asyncio.run(scenario()).state == SENT
