"""Two corrections to Faust (faust-streaming 0.15) that at-least-once processing needs: no
input record may be skipped, on a restart or ever.

**Recovery resumes inputs before seeking them.** Faust ends a recovery in
``Recovery.on_recovery_completed``: it resumes the input partitions, awaits the seek to their
committed offsets, then resumes flow control, which empties every stream queue. The consumer's
flow is still on from reading the changelog, so records fetched while the seek is in flight
reach the agent: those it processed by then are acknowledged, those still queued are thrown
away by the clear, and the fetcher, already past them, drops their re-fetched copies as read.
Measured with tests/test_worker_sigkill_burst.py (see README, "Restarts"); upstream,
faust-streaming issue #596. ``SeekFirstRecovery`` stops the flow first, so nothing is fetched
or handed over until the seek and the clear are done; Faust's own ``resume_flow`` at the end of
the recovery starts fetching from the committed offsets.

**Gaps are committed over.** Faust commits the first run of consecutive acknowledged offsets,
but its check for a gap between the committed offset and that run starts at two records
(``min(acked) - committed > 1``), so a single record fetched and never processed is committed
over and lost for good (issue #606); and a jump in the offsets it hands over is taken for a
compacted or transactional topic's missing offsets and marked done, so records skipped that
way are committed over too. Atlas's inputs are neither compacted nor transactional: every
offset is a record. ``AckedHeadConsumer`` commits only from an acknowledged record at the
committed offset and never marks offsets done that were not processed, which turns any gap
into a stall that ``streams/stall_watchdog.py`` re-reads, instead of a loss.
"""

from __future__ import annotations

from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.transport.drivers import aiokafka
from faust.types import TP


class SeekFirstRecovery(Recovery):
    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        self.app.consumer.stop_flow()
        await super().on_recovery_completed(generation_id)


class SeekFirstTableManager(TableManager):
    """Faust's table manager with :class:`SeekFirstRecovery` (``faust.App(TableManager=…)``)."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = SeekFirstRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery


class AckedHeadConsumer(aiokafka.Consumer):
    def _new_offset(self, tp: TP) -> int | None:
        committed = self._committed_offset[tp]
        if committed is not None and committed not in self._acked_index[tp]:
            return None  # the next record to commit was never acknowledged: wait for it
        return super()._new_offset(tp)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Skipped offsets are records to read, never offsets to count as done."""


class AckedHeadTransport(aiokafka.Transport):
    """Faust's Kafka transport with :class:`AckedHeadConsumer` (``app.transport = …``)."""

    Consumer = AckedHeadConsumer
