"""JT/T 808 (2011/2013/2019) terminal ingest: the first stage of the supervision flow.

- ``frame``: 0x7E framing, escaping, checksum, headers, subpackage reassembly
  (errors are ``routing.errors.DecodeError``).
- ``location``: 0x0200 bodies, named status/alarm flags, additional items.
- ``messages``: the other bodies (0x0100, 0x0102, 0x0002, 0x0003, 0x0704, 0x0800/0x0801,
  0x0001/0x8001, 0x8100), encoders, the CLI's JSON shape.
- ``platform``: platform → terminal commands: text 0x8300, areas 0x8602/0x8604, route 0x8606
  (2013 and 2019 layouts, encoders and decoders).
- ``geofence``: a permit's corridor as a 0x8606 route, a zone as 0x8602/0x8604 areas; queueing them.
- ``outbox``: the gateway's side of the command queue (poll, send, record the 0x0001 answers).
- ``writer``: batched, idempotent database writes off the event loop.
- ``gateway``: the asyncio TCP server; ``settings``: its knobs (``QINGYUN_JT808_``).
- ``limits``: connection caps, byte budgets, idle and frame clocks, the new-phone rate limit.
- ``process``: the gateway as a process of its own (signals, parent death, restarts under ``qingyun serve``).
- ``cli``: ``qingyun jt808 decode | serve | bind | unbind | terminals | simulate | export |
  send-text | push-route | push-zone | commands``.

Public API: :func:`decode_frame`, :func:`decode_body`, :func:`encode_message`, :func:`decode_location`,
:class:`Gateway`, :class:`GatewaySettings`.
"""

from routing._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "fleet.jt808.frame": ("decode_frame",),
        "fleet.jt808.messages": ("decode_body", "encode_message"),
        "fleet.jt808.location": ("decode_location",),
        "fleet.jt808.gateway": ("Gateway",),
        "fleet.jt808.settings": ("GatewaySettings",),
    },
)
