"""The worker's ``customers`` table: a Faust table whose changelog records go out through
librdkafka instead of Faust's aiokafka producer.

Faust writes a changelog record for every table write through its Python producer, which cost
the worker ~150 µs of its ~260 µs floor per event (measured: `benchmarks/stream_fold.py`,
README "Figures"). Here the same record — the changelog topic, the partition of the input
being processed, the key serialized by Faust, the value as JSON (the table's serializer) — is
handed to :class:`~streams.output_producer.OutputProducer`. Everything else is Faust's own:
partition assignment, recovery from the changelog, standbys, RocksDB stores.

At-least-once holds as for Faust's own writes: the producer is flushed before every offset
commit (:func:`~streams.output_producer.flush_before_commits`). A RocksDB store learns the
changelog offsets it holds at each flush (Faust sets them per delivery); a lower offset only
means a restart re-reads a little more of the changelog, which rewrites the same values.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import faust
import orjson
from faust.types import TP

from streams.output_producer import OutputProducer


class CustomerTable(faust.Table):  # type: ignore[type-arg]  # str keys, JSON-ready dicts
    def attach(self, producer: OutputProducer) -> None:
        """Send this table's changelog through ``producer``; call before the worker starts."""
        if self.value_serializer != "json":
            raise ValueError(f"the changelog is written as JSON, not {self.value_serializer}")
        self._producer = producer
        self._changelog_name = self.changelog_topic.get_topic_name()
        producer.on_flushed(self._remember_delivered_offsets)

    def on_key_set(self, key: Hashable, value: Any) -> None:
        """Faust calls this after it stored ``value`` in the local store."""
        partition = self.partition_for_key(key)
        key_bytes, _ = self.changelog_topic.prepare_key(key, self.key_serializer)
        self._producer.send(
            self._changelog_name, key_bytes, orjson.dumps(value), partition=partition
        )
        self._sensor_on_set(self, key, value)

    def _remember_delivered_offsets(self, delivered: dict[tuple[str, int], int]) -> None:
        for (topic, partition), offset in delivered.items():
            if topic == self._changelog_name:
                self.data.set_persisted_offset(TP(topic, partition), offset)
