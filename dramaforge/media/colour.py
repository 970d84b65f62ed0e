"""What colour every picture we write is, said in the file: primaries, transfer, matrix, range.

Untagged H.264 leaves a reader to guess, and readers guess differently: MLT (under Kdenlive
and Shotcut) takes HD as BT.709 and shifted a warm scene by about 4 levels, since our pixels
are BT.601. The offline pictures are sRGB keyframes (BT.709 primaries and, near enough,
transfer) converted with the BT.601 matrix into TV range (``tools/local/motion.py``), and
every later encode keeps the pixels' matrix (ffmpeg converts none): so a file is tagged with
what its source says, or with ``OFFLINE`` when the source says nothing.
"""

from __future__ import annotations

from typing import NamedTuple


class Colour(NamedTuple):
    primaries: str
    transfer: str
    matrix: str
    range: str

    def ffmpeg_args(self) -> list[str]:
        """The output options that write these tags into an encode."""
        return [
            "-color_primaries", self.primaries, "-color_trc", self.transfer,
            "-colorspace", self.matrix, "-color_range", self.range,
        ]  # fmt: skip


OFFLINE = Colour("bt709", "bt709", "smpte170m", "tv")

# FFmpeg's enum values (libavutil/pixfmt.h) as PyAV reports them, to the names ffmpeg takes.
PRIMARIES = {1: "bt709", 5: "bt470bg", 6: "smpte170m", 9: "bt2020"}
TRANSFERS = {1: "bt709", 6: "smpte170m", 13: "iec61966-2-1", 14: "bt2020-10"}
MATRICES = {1: "bt709", 5: "bt470bg", 6: "smpte170m", 9: "bt2020nc"}
RANGES = {1: "tv", 2: "pc"}


def colour_of(primaries: int, transfer: int, matrix: int, range_: int) -> Colour | None:
    """A stream's tags, or None when its matrix is unspecified (then it is ``OFFLINE``'s)."""
    if matrix not in MATRICES:
        return None
    return Colour(
        PRIMARIES.get(primaries, OFFLINE.primaries),
        TRANSFERS.get(transfer, OFFLINE.transfer),
        MATRICES[matrix],
        RANGES.get(range_, OFFLINE.range),
    )
