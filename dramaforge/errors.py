"""The exception tree. The CLI and MCP edge turn these into one clear line and an exit code."""

from __future__ import annotations

import errno


class DramaforgeError(Exception):
    """Base class: ``str(err)`` is written for the user and says what to do."""

    exit_code = 1

    def _asdict(self) -> dict[str, str]:
        """The error as a LangGraph server streams it to its client: class and message. (The
        server sends "An internal error occurred" for an exception it cannot serialise.)"""
        return {"error": type(self).__name__, "message": str(self)}


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


class Busy(WorkspaceError):
    """The episode is being rendered (or edited) by someone else; try again when it is done."""


class ConfigError(DramaforgeError):
    """Settings or a backend name are wrong, or a required local component is missing."""

    exit_code = 3


class ProviderError(DramaforgeError):
    """A backend failed. ``retryable`` says whether trying again may help; ``maybe_paid``
    that the provider may have charged for the failed call all the same (a synchronous reply
    that never came: the budget counts it)."""

    def __init__(self, message: str, *, retryable: bool = False, maybe_paid: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.maybe_paid = maybe_paid


class ContentRejected(ProviderError):
    """A provider's moderation refused the prompt or the output."""


class BudgetExceeded(DramaforgeError):
    """Going on would spend more than the budget allows; nothing already paid is lost."""

    exit_code = 4


class AssemblyError(DramaforgeError):
    """ffmpeg or probing failed while building clips or the episode."""


class MachineError(DramaforgeError):
    """The machine refused: a read-only or full output folder, a missing ffmpeg. Nothing is
    wrong with the script or the settings; fix the machine and run the same command again."""

    exit_code = 3


MACHINE_ERRNOS = frozenset(
    {
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.ENOTDIR,
        errno.EEXIST,
    }
)
"""What a refusing machine looks like from Python: permissions, read-only, full, vanished."""


def machine_error(err: OSError) -> MachineError:
    """``err`` as one line that says what to do."""
    where = f" {err.filename}" if err.filename else ""
    if err.errno in (errno.ENOENT, errno.ENOTDIR):  # a folder on the way cannot be made or found
        return MachineError(
            f"cannot create or open{where}: {err.strerror}; check the path (--out) and run again"
        )
    if err.errno not in MACHINE_ERRNOS:  # a port in use, a broken pipe, a device gone
        reason = err.strerror or str(err) or type(err).__name__
        return MachineError(f"the machine refused{where}: {reason}; fix that and run again")
    advice = {
        errno.ENOSPC: "free some space or choose another --out",
        errno.EDQUOT: "free some space or choose another --out",
        errno.EROFS: "choose a writable --out",
        errno.EACCES: "choose a folder you can write to (--out)",
        errno.EPERM: "choose a folder you can write to (--out)",
    }.get(err.errno or 0, "check the path and run again")
    return MachineError(f"cannot write{where}: {err.strerror}; {advice}")


class ExportError(DramaforgeError):
    """An editor export (OTIO, 剪映 draft, subtitles) was not written; the episode is intact."""
