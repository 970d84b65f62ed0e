"""Which set a scene heading names, and the few strokes that make it read as that set.

The offline keyframe is an animatic, but a viewer should still tell the corridor at dusk from
the classroom at noon and the playground at night. The heading is all the painter gets (the
same text the prompt carries), so the place is read from its words: explicit INT./EXT. or
内景/外景 first, then the kind of place (走廊, classroom, 操场...), which also settles inside
or outside when the writer did not say.
"""

from __future__ import annotations

import random
import re

from PIL import Image, ImageDraw

from dramaforge.script.places import place_kind

RGB = tuple[int, int, int]

_INSIDE = ("int", "内", "内景", "室内", "interior")
_OUTSIDE = ("ext", "外", "外景", "室外", "exterior")


def is_interior(heading: str) -> bool:
    """Inside or outside: what the writer said (INT./EXT., 内景/外景, a 内/外 token), else what
    the place is (a corridor is inside, a playground outside), else outside."""
    head = heading.strip().lower()
    if head.startswith(("int./ext", "int/ext", "ext./int", "ext/int", "i/e")):
        return place_kind(heading)[1] is not False
    if head.startswith(("int", "内")) or "室内" in head:
        return True
    if head.startswith(("ext", "外")) or "室外" in head:
        return False
    tokens = re.split(r"[\s\-–—/|,，、·.。()（）]+", head)
    if any(t in _INSIDE for t in tokens):
        return True
    if any(t in _OUTSIDE for t in tokens):
        return False
    return bool(place_kind(heading)[1])


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


FLOOR = 0.74
"""Where the storyboard's floor line is, as a fraction of the height."""
_DARK = {"night": 0.6, "dusk": 0.25}


def dress(image: Image.Image, kind: str, tod: str, sky: RGB, rng: random.Random) -> None:
    """Draw the set's few telling things over the plain room or street, behind the figures;
    ``tod`` (day, dawn, dusk, night) dims what the sky lights, ``sky`` shows in windows."""
    floor_y = round(image.height * FLOOR)
    if kind == "playground":
        _playground(image, floor_y, _DARK.get(tod, 0.0), rng)
    elif kind == "classroom":
        _classroom(image, floor_y, rng)
    elif kind == "corridor":
        _corridor(image, sky, floor_y, rng)


def _classroom(image: Image.Image, floor_y: int, rng: random.Random) -> None:
    """A blackboard on the wall and rows of desks."""
    draw = ImageDraw.Draw(image)
    w, h = image.size
    board = (round(w * 0.44), round(h * 0.16), round(w * 0.64), round(h * 0.42))
    draw.rectangle(board, fill=(38, 78, 58), outline=(120, 90, 60), width=max(w // 200, 3))
    for i in range(3):  # chalk lines
        y = board[1] + (board[3] - board[1]) * (0.3 + 0.2 * i)
        x0 = board[0] + (board[2] - board[0]) * rng.uniform(0.08, 0.2)
        x1 = board[0] + (board[2] - board[0]) * rng.uniform(0.5, 0.9)
        draw.line([(x0, y), (x1, y)], fill=(220, 225, 215), width=2)
    desk = (150, 105, 62)
    for row, (top, depth) in enumerate(((0.0, 0.05), (0.08, 0.07))):
        y0 = floor_y + round(h * top)
        for k in range(7 - row):
            x0 = w * (0.04 + k * 0.145 + row * 0.07)
            draw.rectangle([x0, y0, x0 + w * 0.1, y0 + h * depth], fill=desk)


def _corridor(image: Image.Image, sky: RGB, floor_y: int, rng: random.Random) -> None:
    """A long hall seen down its length: walls, floor and ceiling meeting at the far end,
    windows along one side showing the sky, doors along the other."""
    draw = ImageDraw.Draw(image)
    w, h = image.size
    vx, vy = w * rng.uniform(0.45, 0.55), h * 0.46
    far = (vx - w * 0.1, vy - h * 0.12, vx + w * 0.1, vy + h * 0.1)
    wall = image.getpixel((w // 2, h // 20))
    wall_rgb: RGB = (wall[0], wall[1], wall[2]) if isinstance(wall, tuple) else (200, 200, 200)
    left_wall = mix(wall_rgb, (0, 0, 0), 0.12)
    draw.polygon([(0, 0), far[:2], (far[0], far[3]), (0, h)], fill=left_wall)
    draw.polygon([(w, 0), (far[2], far[1]), far[2:], (w, h)], fill=mix(wall_rgb, (0, 0, 0), 0.2))
    draw.polygon(
        [(0, 0), (w, 0), (far[2], far[1]), far[:2]], fill=mix(wall_rgb, (255, 255, 255), 0.3)
    )
    draw.polygon(
        [(0, h), (w, h), far[2:], (far[0], far[3])], fill=mix(wall_rgb, (90, 70, 50), 0.55)
    )
    draw.rectangle(far, fill=mix(wall_rgb, (255, 255, 255), 0.15))
    for i in range(4):  # windows on the left wall, shrinking towards the far end
        t0, t1 = 0.08 + i * 0.22, 0.2 + i * 0.22
        x0, x1 = far[0] * t0, far[0] * t1

        def y_at(x: float, top: bool) -> float:
            edge = far[1] if top else far[3]
            return (0 if top else h) + (edge - (0 if top else h)) * (x / far[0]) * 0.95

        draw.polygon(
            [
                (x0, y_at(x0, True) + h * 0.1),
                (x1, y_at(x1, True) + h * 0.06),
                (x1, y_at(x1, False) - h * 0.3),
                (x0, y_at(x0, False) - h * 0.38),
            ],
            fill=sky,
        )
    for i in range(3):  # doors on the right wall
        x0 = w - (w - far[2]) * (0.15 + i * 0.3)
        x1 = x0 - (w - far[2]) * 0.14
        draw.rectangle([x1, h * (0.22 + i * 0.07), x0, floor_y - h * i * 0.08], fill=(120, 84, 56))


def _playground(image: Image.Image, floor_y: int, dark: float, rng: random.Random) -> None:
    """A green field with white running-track lines and a fence along its far side."""
    draw = ImageDraw.Draw(image)
    w, h = image.size
    night = (12, 18, 40)
    draw.rectangle([0, floor_y, w, h], fill=mix((70, 140, 70), night, dark))
    lane = mix((240, 240, 235), night, dark * 0.8)
    for i in range(4):
        y = floor_y + (h - floor_y) * (0.2 + 0.22 * i)
        draw.line([(0, y), (w, y - h * 0.02 * rng.uniform(0.5, 1.5))], fill=lane, width=3)
    fence_top = floor_y - h * 0.07
    draw.line([(0, fence_top), (w, fence_top)], fill=(90, 90, 90), width=3)
    for x in range(0, w, max(w // 40, 8)):
        draw.line([(x, fence_top), (x, floor_y)], fill=(90, 90, 90), width=2)
