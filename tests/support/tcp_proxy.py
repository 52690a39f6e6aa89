"""A proxy in a thread that can be cut and restored: an outage of a broker or of Postgres
without losing their state. It listens on a TCP port or a unix socket and forwards to a TCP
port or a unix socket (Postgres's own, for a socket URL)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from atlas.embedded import free_port

Address = int | str  # a TCP port on 127.0.0.1, or a unix socket path
DEFAULT_PG_PORT = 5432


class TcpProxy:
    def __init__(self, listen_port: Address, target_port: Address) -> None:
        self.listen_port = listen_port
        self.target_port = target_port
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def _run(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if isinstance(self.target_port, str):
                up_reader, up_writer = await asyncio.open_unix_connection(self.target_port)
            else:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))

    async def _start(self) -> None:
        if isinstance(self.listen_port, str):
            self._server = await asyncio.start_unix_server(self._handle, self.listen_port)
        else:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.listen_port)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def start(self) -> TcpProxy:
        self._run(self._start())
        return self

    def cut(self) -> None:
        """Refuse new connections and drop open ones: the broker is unreachable."""
        self._run(self._cut())

    def restore(self) -> None:
        self._run(self._start())

    def close(self) -> None:
        self._run(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


def proxied(database_url: str, workdir: Path) -> tuple[TcpProxy, str]:
    """A proxy in front of the database, and the URL that goes through it."""
    url = make_url(database_url)
    socket_dir = url.query.get("host")
    port = url.port or DEFAULT_PG_PORT
    if isinstance(socket_dir, str) and socket_dir.startswith("/"):
        listen_dir = workdir / "pg-proxy"
        listen_dir.mkdir()
        proxy = TcpProxy(str(listen_dir / f".s.PGSQL.{port}"), f"{socket_dir}/.s.PGSQL.{port}")
        through = url.update_query_dict({"host": str(listen_dir)})
    else:
        listen = free_port()
        proxy = TcpProxy(listen, port)
        through = url.set(host="127.0.0.1", port=listen)
    return proxy.start(), through.render_as_string(hide_password=False)
