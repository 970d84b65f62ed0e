"""The CJK-capable font used for keyframes and subtitles (Noto Sans CJK, OFL)."""

from __future__ import annotations

from pathlib import Path

import noto_cjk_sans_otc

FONT_NAME = "Noto Sans CJK SC"


def font_path() -> Path:
    """Full path of the bundled Noto Sans CJK collection (.ttc)."""
    return Path(noto_cjk_sans_otc.FONT_PATH)


def font_dir() -> Path:
    """The folder libass should search (``fontsdir=``) to find FONT_NAME."""
    return font_path().parent
