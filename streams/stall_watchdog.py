"""Re-read a partition whose committed offset stopped moving while records wait behind it.

Faust stops committing a partition when a record in it was fetched but never processed: it
waits for that record forever. Restarts used to cause that (fixed in
``streams/at_least_once.py``, which also turns any such gap into this stall instead of a
commit over it); this watchdog is the safety net for whatever else might. A healthy worker
commits every second while it has work, so an offset that sits still for ``stall_after_s`` with
records beyond it is stuck; seeking back to it re-delivers everything uncommitted. Processing
is idempotent, so re-reading is always safe. Each check also reports every input partition's
lag (the ``atlas_consumer_lag`` metric).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from typing import Any

from atlas import metrics

log = logging.getLogger(__name__)


class StallWatchdog:
    def __init__(self, topics: Collection[str], stall_after_s: float) -> None:
        self._topics = frozenset(topics)
        self._stall_after_s = stall_after_s
        self._seen: dict[Any, tuple[int | None, float]] = {}  # tp -> (committed, since)
        self.reseeks = 0

    async def check(self, consumer: Any) -> None:
        now = time.monotonic()
        for tp in consumer.assignment():
            if tp.topic not in self._topics:
                continue
            # Faust's own record of what it committed (no public accessor).
            committed: int | None = consumer._committed_offset.get(tp)
            highwater = consumer.highwater(tp)  # from fetch responses: right even on tansu
            if committed is not None and highwater is not None:
                lag = max(highwater - committed, 0)
                metrics.LAG.labels(tp.topic, str(tp.partition)).set(lag)
            previous, since = self._seen.get(tp, (committed, now))
            if committed != previous or tp not in self._seen:
                self._seen[tp] = (committed, now)
                continue
            behind = highwater is not None and highwater > (committed or 0)
            if behind and now - since >= self._stall_after_s:
                await self._reread(consumer, tp, committed, highwater)
                self._seen[tp] = (committed, now)

    async def _reread(self, consumer: Any, tp: Any, committed: int | None, highwater: int) -> None:
        if committed is None:
            committed = (await consumer.earliest_offsets(tp))[tp]
        self.reseeks += 1
        log.warning(
            "%s[%d]: committed offset %s has not moved for %.0f s with records up to %d; "
            "re-reading from it",
            tp.topic,
            tp.partition,
            committed,
            self._stall_after_s,
            highwater - 1,
        )
        await consumer.seek(tp, committed)
