"""What every PNG map over a road network shares: a Chinese font when the machine has one, bilingual labels, a scale bar.

The plan map (``routing.planning.exports``) and the catchment map (``routing.stations.catchment_map``)
label in Chinese with English beside. matplotlib's bundled fonts carry no CJK glyphs, so a system
font is looked for (WenQuanYi Micro Hei from ``make browser`` / ``apt-get install fonts-wqy-microhei``,
Noto Sans CJK, Source Han Sans …); without one the maps fall back to English labels, never to boxes.
"""

from __future__ import annotations

import glob
import math
import re

CJK_FONT_GLOBS = (
    "/usr/share/fonts/**/wqy-*.tt[cf]",
    "/usr/share/fonts/**/NotoSansCJK*.tt[cf]",
    "/usr/share/fonts/**/*CJK*.otf",
    "/usr/share/fonts/**/SourceHanSans*.otf",
)
"""Where Debian and Ubuntu put the CJK fonts a map may use."""

CJK_FAMILIES = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "SimHei")
"""CJK font families matplotlib may already know (Windows, macOS, fonts installed elsewhere)."""

_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]+")


def use_cjk_font() -> bool:
    """Make matplotlib draw Chinese with a font of this machine; False if it has none (labels then stay English).

    Returns
    -------
    bool
        Whether a CJK font is set as the first sans-serif family.
    """
    import matplotlib
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    family = next((name for name in CJK_FAMILIES if name in known), None)
    if family is None:
        for path in (p for pattern in CJK_FONT_GLOBS for p in sorted(glob.glob(pattern, recursive=True))):
            try:
                font_manager.fontManager.addfont(path)
                family = font_manager.FontProperties(fname=path).get_name()
                break
            except (OSError, RuntimeError, ValueError):  # an unreadable font file: try the next
                continue
    if family is None:
        return False
    matplotlib.rcParams["font.sans-serif"] = [family, "DejaVu Sans"]
    matplotlib.rcParams["axes.unicode_minus"] = False
    return True


def label(zh: str, en: str, *, cjk: bool) -> str:
    """``"中文 / English"`` when Chinese can be drawn, else the English alone.

    Parameters
    ----------
    zh, en
        The label in both languages.
    cjk
        Whether a CJK font is in use (:func:`use_cjk_font`).
    """
    return f"{zh} / {en}" if cjk else en


def drawable(text: str, *, cjk: bool, fallback: str = "") -> str:
    """A user's text (a place or scenario name) as the map can draw it: CJK removed when no font has it.

    Parameters
    ----------
    text
        The text, possibly Chinese (``深圳南山福田 / Shenzhen Nanshan+Futian``).
    cjk
        Whether a CJK font is in use.
    fallback
        Used when nothing drawable is left (an id).
    """
    if cjk:
        return text or fallback
    kept = re.sub(r"\s*/\s*/\s*", " / ", _CJK.sub("", text)).strip(" /")
    return kept or fallback


def scale_length(span_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 × 10ⁿ metres) of about a fifth of the map's width.

    Parameters
    ----------
    span_m
        The map's width in metres.
    """
    target = max(span_m / 5.0, 1.0)
    power = 10 ** math.floor(math.log10(target))
    return max(step * power for step in (1, 2, 5) if step * power <= target)


def add_scale_bar(ax, *, metres_per_unit: float) -> float:
    """A scale bar in the lower left corner of ``ax``, labelled in metres or kilometres.

    Parameters
    ----------
    ax
        The map's axes, its limits already set.
    metres_per_unit
        Metres per data unit along x: 1 for projected (UTM) maps, ``111 320·cos(lat)`` for lon/lat maps.

    Returns
    -------
    float
        The bar's length in metres.
    """
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    x0, x1 = ax.get_xlim()
    metres = scale_length(abs(x1 - x0) * metres_per_unit)
    text = f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"
    bar = AnchoredSizeBar(
        ax.transData,
        metres / metres_per_unit,
        text,
        loc="lower left",
        pad=0.6,
        borderpad=0.8,
        sep=4,
        frameon=True,
        size_vertical=abs(ax.get_ylim()[1] - ax.get_ylim()[0]) / 250,
        fontproperties={"size": 8},
    )
    bar.patch.set_alpha(0.8)
    ax.add_artist(bar)
    return metres
