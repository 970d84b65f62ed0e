"""Text that was never a script but reads as one: subtitle files and chat-log exports.

People paste an ``.srt`` they transcribed, or a WeChat conversation exported as text, and
expect it to play as spoken lines. The cue numbers, timecodes and ``名字 12:01`` stamp lines
are structure, never something to say, so the marker parser skips them with these tests.
"""

from __future__ import annotations

import re

TIMECODE = re.compile(
    r"^(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?\s*-->\s*(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?"
)
CUE_NUMBER = re.compile(r"^\d{1,6}$")
CHAT_STAMP = re.compile(
    r"^(?P<name>[^\s：:\d][^\s：:]{0,15})\s+(?:\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?\s+)?"
    r"(?:上午|下午|晚上|凌晨|中午)?\s?\d{1,2}:\d{2}(?::\d{2})?$"
)
EMOJI_CODE = re.compile(r"\[[\u4e00-\u9fffA-Za-z]{1,4}\]")
"""WeChat's ``[捂脸]`` / ``[Smile]``: a sticker, not words to speak."""
PLACEHOLDER = re.compile(r"^\[(?:图片|表情|语音|视频|文件|链接|动画表情|Photo|Sticker|Voice)\]$")


def is_subtitles(lines: list[str]) -> bool:
    """Two timecode lines (``00:00:01,000 --> 00:00:03,000``) make a subtitle file."""
    found = 0
    for line in lines:
        if TIMECODE.match(line.strip()):
            found += 1
            if found >= 2:
                return True
    return False


def is_chat_log(lines: list[str]) -> bool:
    """Two ``名字 12:01`` stamp lines each followed by a message make a chat export."""
    found = 0
    for i, line in enumerate(lines[:-1]):
        if CHAT_STAMP.match(line.strip()) and lines[i + 1].strip():
            found += 1
            if found >= 2:
                return True
    return False


def subtitle_structure(line: str) -> bool:
    """A cue number, a timecode or the WEBVTT header: nothing to film or say."""
    return bool(CUE_NUMBER.match(line) or TIMECODE.match(line)) or line.startswith("WEBVTT")


def chat_speaker(line: str) -> str | None:
    m = CHAT_STAMP.match(line)
    return m.group("name") if m else None


def spoken(text: str) -> str:
    """A message without sticker codes; empty when it was only stickers or a placeholder."""
    if PLACEHOLDER.match(text):
        return ""
    return EMOJI_CODE.sub("", text).strip()
