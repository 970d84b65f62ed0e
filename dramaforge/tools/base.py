"""Kept for third-party backends written against 0.1: import from ``dramaforge.tools.protocols``
(requests and Protocols) and ``dramaforge.media.journal`` (the journal types). Removed in 0.3.
"""

from dramaforge.media.journal import Generated, JournalEntry, SubmitIntent, TaskJournal
from dramaforge.tools.protocols import (
    ImageBackend,
    ImageRequest,
    Keyed,
    SoundBackend,
    SoundRequest,
    SpeechBackend,
    SpeechRequest,
    VideoBackend,
    VideoRequest,
)

__all__ = [
    "Generated",
    "ImageBackend",
    "ImageRequest",
    "JournalEntry",
    "Keyed",
    "SoundBackend",
    "SoundRequest",
    "SpeechBackend",
    "SpeechRequest",
    "SubmitIntent",
    "TaskJournal",
    "VideoBackend",
    "VideoRequest",
]
