"""The exception tree. The CLI and MCP edge turn these into one clear line and an exit code."""

from __future__ import annotations


class DramaforgeError(Exception):
    """Base class: ``str(err)`` is written for the user and says what to do."""

    exit_code = 1


class ScriptError(DramaforgeError):
    """The script cannot be read or understood. Names the file and, where known, the line."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        where = path or "<text>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line


class EditError(DramaforgeError):
    """An edit to a plan, a bible or a take that cannot be applied; nothing was changed."""

    exit_code = 2


class WorkspaceError(DramaforgeError):
    """A path given by another agent (MCP, LangChain tools) is outside the workspace or absent."""

    exit_code = 2


class ConfigError(DramaforgeError):
    """Settings or a backend name are wrong, or a required local component is missing."""

    exit_code = 3


class ProviderError(DramaforgeError):
    """A backend failed. ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class ContentRejected(ProviderError):
    """A provider's moderation refused the prompt or the output."""


class BudgetExceeded(DramaforgeError):
    """Going on would spend more than the budget allows; nothing already paid is lost."""

    exit_code = 4


class AssemblyError(DramaforgeError):
    """ffmpeg or probing failed while building clips or the episode."""


class ExportError(DramaforgeError):
    """An editor export (OTIO, 剪映 draft, subtitles) was not written; the episode is intact."""
