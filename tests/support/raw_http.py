"""HTTP/1.1 over a bare socket, for what an HTTP client library will not do: trickle headers or
a body, hold a connection idle, stream a body while the server answers before reading it."""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass, field

import orjson


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        parsed = orjson.loads(self.body)
        assert isinstance(parsed, dict)
        return parsed


@dataclass
class RawConnection:
    port: int
    sock: socket.socket = field(init=False)
    received: bytes = b""

    def __post_init__(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)

    def send(self, data: bytes) -> bool:
        """Send ``data``; False when the server has closed the connection."""
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return False
        return True

    def closed_by_server(self, within_s: float) -> bool:
        """Whether the server closes the connection within ``within_s`` (reading what it sends)."""
        deadline = time.monotonic() + within_s
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self.sock], [], [], left)
            if readable:
                try:
                    chunk = self.sock.recv(65536)
                except ConnectionResetError:
                    return True
                if not chunk:
                    return True
                self.received += chunk
        return False

    def response(self, timeout_s: float = 30) -> RawResponse:
        """Read one response (a ``content-length`` body), whatever the server sent so far."""
        deadline = time.monotonic() + timeout_s
        while True:
            parsed = _parse(self.received)
            if parsed is not None:
                return parsed
            left = deadline - time.monotonic()
            assert left > 0, f"no complete response in {timeout_s} s: {self.received[:200]!r}"
            readable, _, _ = select.select([self.sock], [], [], left)
            if readable:
                chunk = self.sock.recv(65536)
                assert chunk, f"connection closed before a response: {self.received[:200]!r}"
                self.received += chunk

    def stream_body(self, head: bytes, chunks: list[bytes]) -> RawResponse:
        """Send ``head`` then ``chunks`` while reading: stop sending once the server answers
        (it may answer and close before reading everything)."""
        assert self.send(head)
        self.sock.setblocking(False)
        try:
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    readable, writable, _ = select.select([self.sock], [self.sock], [], 30)
                    if readable and not self._read_some():
                        return self._finish()
                    if _parse(self.received) is not None:
                        return self._finish()
                    if writable:
                        try:
                            view = view[self.sock.send(view) :]
                        except (BrokenPipeError, ConnectionResetError):
                            return self._finish()
            return self._finish()
        finally:
            self.sock.setblocking(True)

    def _read_some(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return True
        except ConnectionResetError:
            return False
        self.received += chunk
        return bool(chunk)

    def _finish(self) -> RawResponse:
        self.sock.setblocking(True)
        return self.response()

    def close(self) -> None:
        self.sock.close()


def _parse(data: bytes) -> RawResponse | None:
    head, separator, rest = data.partition(b"\r\n\r\n")
    if not separator:
        return None
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    if len(rest) < length:
        return None
    return RawResponse(int(status_line.split()[1]), headers, rest[:length])


def request_head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
