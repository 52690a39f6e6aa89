"""The longest a worker's fetch waits for records: ``ATLAS_FETCH_MAX_WAIT_MS``.

Faust hard-codes 1,500 ms for its worker consumer (``faust/transport/drivers/aiokafka.py``)
and has no setting for it. On Kafka the wait only bounds an idle fetch: a record that arrives
ends it. tansu answers a waiting fetch only at its deadline, so there every record waited for
it (p50 770 ms webhook to row). This sets aiokafka's own ``fetch_max_wait_ms`` on the consumer
Faust builds, before Faust starts it.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

_faust_create_worker_consumer = AIOKafkaConsumerThread._create_worker_consumer


def use_fetch_max_wait(milliseconds: int) -> None:
    """Make every Faust worker consumer built in this process wait at most ``milliseconds``."""

    def create_worker_consumer(thread: AIOKafkaConsumerThread, transport: Any) -> Any:
        consumer = _faust_create_worker_consumer(thread, transport)
        consumer._fetch_max_wait_ms = milliseconds  # read by AIOKafkaConsumer.start()
        return consumer

    AIOKafkaConsumerThread._create_worker_consumer = create_worker_consumer  # type: ignore[method-assign,assignment]
