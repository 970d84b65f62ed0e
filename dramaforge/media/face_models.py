"""Where the face models of the ``faces`` extra are: files inside ``face-recognition-models``.

Found from the package's location without importing it: its ``__init__`` imports
``pkg_resources``, which setuptools no longer ships (81 and later), so importing it fails on
a fresh install while its model files are there all the same.
"""

from __future__ import annotations

import threading
from importlib.util import find_spec
from pathlib import Path

PACKAGE = "face_recognition_models"
DLIB_LOCK = threading.RLock()
"""Held around every dlib call in the process (the mouths' landmarks, identity's faces): dlib
crashed (a segfault) when two shots' critics ran it at once."""


def model_file(name: str) -> Path | None:
    """``models/<name>`` of the installed package, or None if the package or file is absent."""
    spec = find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / name
    return path if path.is_file() else None
