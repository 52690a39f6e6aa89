"""The periodic refresh: a fallback for changes the stream did not deliver (the stream starts
at its end, and may be down). Reloads the catalog and re-fetches every cached user not
confirmed in the last half interval, so that without a stream an entry is confirmed at least
every 1.5 intervals (450 s by default, within the 600 s max_age)."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from atlas_client._http import Answer, SyncApi

if TYPE_CHECKING:
    from atlas_client._engine import Engine


class Refresher:
    """A thread that refreshes ``engine`` from ``api`` at once and every ``interval`` s."""

    def __init__(self, engine: Engine, api: SyncApi, interval: float) -> None:
        self._engine = engine
        self._api = api
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="atlas-client-refresh", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while True:
            self._refresh()
            if self._stop.wait(self._interval):
                return

    def _refresh(self) -> None:
        self._engine.set_catalog(self._api.fetch_catalog(), time.monotonic())
        cache = self._engine.cache
        for user_id, etag in cache.due_for_refresh(time.monotonic(), self._interval / 2):
            if self._stop.is_set():
                return
            result = self._api.fetch_user(user_id, etag)
            if result is Answer.UNREACHABLE:
                return  # the next round tries again
            self._engine.apply(user_id, result, time.monotonic())
