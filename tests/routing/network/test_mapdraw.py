"""What the PNG maps share: round scale bars, labels that a machine without a Chinese font can still draw."""

from __future__ import annotations

import pytest

from routing.network.mapdraw import drawable, label, scale_length


@pytest.mark.parametrize(
    ("span_m", "bar_m"), [(9_000, 1_000), (12_000, 2_000), (30_000, 5_000), (600, 100), (50_001, 10_000), (3, 0)]
)
def test_scale_bar_is_a_round_fifth_of_the_width(span_m, bar_m):
    assert scale_length(span_m) == (bar_m or 1)


def test_labels_are_bilingual_only_when_chinese_can_be_drawn():
    assert label("车场", "depot", cjk=True) == "车场 / depot"
    assert label("车场", "depot", cjk=False) == "depot"
    assert drawable("深圳南山福田 / Shenzhen Nanshan+Futian", cjk=False) == "Shenzhen Nanshan+Futian"
    assert drawable("深圳南山福田 / Shenzhen", cjk=True) == "深圳南山福田 / Shenzhen"
    assert drawable("餐厨垃圾处理厂", cjk=False, fallback="F-KITCHEN") == "F-KITCHEN"
