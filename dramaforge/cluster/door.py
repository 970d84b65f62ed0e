"""What every door that starts a cluster batch needs (the CLI, MCP, the studio): whether
``[cluster]`` is set up for it, and the cluster libraries' errors as one clear line.

Importing this module imports none of ray, psycopg or boto3.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from dramaforge.config import ClusterSettings
from dramaforge.errors import ConfigError

T = TypeVar("T")

NEEDED = ("address", "database", "store")
"""What a door needs set to start a cluster batch: a server must not start a Ray of its own,
and without a database or store there is no shared state."""


def missing(settings: ClusterSettings) -> list[str]:
    """The ``[cluster]`` settings a door's cluster batch needs and lacks (none: ready)."""
    return [name for name in NEEDED if not getattr(settings, name)]


def require_cluster(settings: ClusterSettings) -> None:
    """Refuse, in one line naming the settings, a cluster batch the settings cannot run."""
    lacking = missing(settings)
    if lacking:
        named = ", ".join(f"[cluster] {name}" for name in lacking)
        raise ConfigError(
            f"a cluster batch needs {named} set (in dramaforge.toml or DRAMAFORGE_CLUSTER__*, "
            "RAY_ADDRESS for the address), then `dramaforge cluster init` once"
        )


def cluster_errors(fn: Callable[[], T]) -> Callable[[], T]:
    """``fn`` with the cluster libraries' own errors turned into one clear ConfigError."""

    def run() -> T:
        try:
            from botocore.exceptions import BotoCoreError, ClientError
            from psycopg import Error as PgError
        except ImportError:
            raise ConfigError(
                "the cluster needs its extra: pip install 'dramaforge[cluster]'"
            ) from None
        try:
            return fn()
        except PgError as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ConfigError(f"PostgreSQL: {first}") from None
        except (BotoCoreError, ClientError) as err:
            raise ConfigError(f"the cluster store: {err}") from None

    return run
