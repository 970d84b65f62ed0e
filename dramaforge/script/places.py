"""What kind of place a heading names, and whether that place is inside or outside.

Writers often leave out INT./EXT. or 内/外 (``## 场景二 走廊 傍晚``), yet a corridor is inside
and a playground is outside. The parsers fill a scene's ``interior`` from this table when the
heading does not say, and the offline keyframe painter dresses its set by the same kinds.
"""

from __future__ import annotations

import re

# (kind, inside?, words by "|"). Earlier rows win: 教室走廊 is a corridor, 室外操场 a playground.
PLACES: list[tuple[str, bool, str]] = [
    (
        "corridor",
        True,
        "走廊|过道|楼道|走道|长廊|corridor|hallway|hall|passage|lobby|stairwell|staircase|楼梯",
    ),
    ("classroom", True, "教室|课堂|自习室|classroom|lecture"),
    (
        "playground",
        False,
        "操场|运动场|球场|跑道|体育场|playground|field|court|track|pitch|stadium",
    ),
    (
        "room",
        True,
        "卧室|宿舍|房间|客厅|厨房|办公室|会议室|图书馆|食堂|病房|医院|咖啡|餐厅|酒吧|电梯|车内"
        "|bedroom|room|kitchen|office|library|cafe|diner|bar|shop|store|apartment|house|ward"
        "|hospital|lift|elevator|restaurant|dorm",
    ),
    (
        "street",
        False,
        "街|路|巷|公园|天台|楼顶|屋顶|校门|门口|广场|车站|站台|桥|海边|河边|山"
        "|street|road|park|rooftop|roof|gate|square|station|platform|bridge|beach|alley|garden"
        "|yard|stop",
    ),
    ("room", True, "室|厅|屋|家|店|馆"),
]


_ROWS = [
    (
        kind,
        inside,
        frozenset(n for n in names if n.isascii()),
        re.compile("|".join(re.escape(n) for n in names if not n.isascii()) or "(?!)"),
    )
    for kind, inside, words in PLACES
    for names in [words.split("|")]
]


def place_kind(heading: str) -> tuple[str, bool | None]:
    """(kind, inside) for ``heading``; ("", None) when no word of it names a place."""
    low = heading.lower()
    words = set(re.findall(r"[a-z]+", low))
    for kind, inside, latin, cjk in _ROWS:
        if words & latin or cjk.search(low):
            return kind, inside
    return "", None
