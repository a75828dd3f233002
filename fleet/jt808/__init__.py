"""JT/T 808 (2011/2013/2019) terminal ingest.

- ``frame``: 0x7E framing, escaping, checksum, headers, subpackage reassembly, DecodeError.
- ``location``: 0x0200 bodies, named status/alarm flags, additional items.
- ``messages``: the other bodies (0x0100, 0x0102, 0x0002, 0x0003, 0x0704, 0x0800/0x0801,
  0x0001/0x8001, 0x8100), encoders, the CLI's JSON shape.
- ``writer``: batched, idempotent database writes off the event loop.
- ``gateway``: the asyncio TCP server.
- ``simulator``: terminals driving road paths, for tests and benchmarks.
- ``cli``: ``qingyun jt808 decode | serve | simulate``.
"""
