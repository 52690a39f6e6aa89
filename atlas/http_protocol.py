"""uvicorn's HTTP protocol with a deadline for request headers (slow-loris protection).

uvicorn times out only idle keep-alive connections, and only until the next byte: a client
that opens a connection and sends nothing, or trickles its headers a byte at a time, holds it
forever, and enough of them fill ``limit_concurrency`` so every other request gets ``503``.
Here a connection must deliver a complete request's headers within ``header_timeout_s`` of
being opened or of its previous response; otherwise it is closed, with ``408`` when a request
had begun. While a request is being handled its body is the app's business (the ingress reads
it with its own deadline).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

_TIMED_OUT_BODY = b'{"error":"request_timeout","message":"request headers arrived too slowly"}'
_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_TIMED_OUT_BODY), _TIMED_OUT_BODY)
)


def deadline_protocol(header_timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's protocol class (httptools or h11, as uvicorn picks) with the deadline; pass
    it as ``uvicorn.run(..., http=...)``."""

    class HeaderDeadlineProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        _deadline: asyncio.TimerHandle | None = None
        _began = False  # bytes of a request arrived since the deadline was armed

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            self._began = True
            super().data_received(data)
            if self._handling():
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self._handling():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _handling(self) -> bool:
            return self.cycle is not None and not self.cycle.response_complete

        def _arm(self) -> None:
            self._disarm()
            self._began = False
            self._deadline = self.loop.call_later(header_timeout_s, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            self._deadline = None
            if self._handling() or self.transport.is_closing():
                return
            if self._began:
                self.transport.write(_TIMED_OUT)
            self.transport.close()

    return HeaderDeadlineProtocol
