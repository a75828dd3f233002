"""Every JT/T 808 frame the READMEs show decodes whole: a new user can paste it and see a position."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fleet.jt808.frame import decode_frame
from fleet.jt808.location import decode_location

ROOT = Path(__file__).resolve().parents[3]
FRAMES = [
    (readme.name, hexed)
    for readme in sorted(ROOT.glob("README*.md"))
    for hexed in re.findall(r"\b7E[0-9A-F]{24,}7E\b", readme.read_text(encoding="utf-8"), flags=re.IGNORECASE)
]


@pytest.mark.parametrize(("readme", "hexed"), FRAMES, ids=[f"{name}:{i}" for i, (name, _) in enumerate(FRAMES)])
def test_readme_frame_is_complete_and_valid(readme: str, hexed: str) -> None:
    frame = decode_frame(bytes.fromhex(hexed))  # checksum, length and escapes all hold
    if frame.msg_id == 0x0200:
        location = decode_location(frame.body, error_at=frame.error)
        assert 18 < location.lat < 54 and 73 < location.lon < 136  # a point in China


def test_the_readmes_show_a_location_frame() -> None:
    assert any(decode_frame(bytes.fromhex(hexed)).msg_id == 0x0200 for _, hexed in FRAMES)
