"""Clients that never finish a request: the studio's HTTP protocol with a header deadline.

uvicorn bounds the wait between requests (keep-alive) but not the wait for a request's
headers, so a client that sends them a byte at a time holds a connection for ever. This
protocol closes a connection whose request headers are not complete ``HEADER_SECONDS`` after
their first byte; a request body has its own deadline in the guard (``BODY_SECONDS``).
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_SECONDS = 10.0


class HeaderDeadline(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request headers arrive too slowly."""

    _deadline: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        waiting = self.conn.their_state is h11.IDLE
        super().data_received(data)
        if waiting and self.conn.their_state is h11.IDLE and self._deadline is None:
            self._deadline = self.loop.call_later(HEADER_SECONDS, self._too_slow)
        elif self.conn.their_state is not h11.IDLE and self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)
