"""A blocking producer for commands (``atlas catalog apply``, ``atlas grant``…): send, then
wait until the broker has taken everything, or raise :class:`BrokerUnavailable`."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from atlas.kafka_topics import BrokerUnavailable

UNASSIGNED = -1  # librdkafka's RD_KAFKA_PARTITION_UA: the partitioner chooses


class CommandProducer:
    def __init__(self, bootstrap: str, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._failures: list[str] = []
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                # the ingress's partitioner: a customer's records land where the worker expects
                "partitioner": "murmur2_random",
                "message.timeout.ms": int(timeout_s * 1000),
            }
        )

    def _on_delivery(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            self._failures.append(error.str())

    def send(
        self,
        topic: str,
        value: bytes | None,  # None: a tombstone
        key: bytes,
        partition: int | None = None,
        headers: list[tuple[str, str | bytes | None]] | None = None,
    ) -> None:
        """Queue one record; ``partition`` None lets the partitioner place it by key."""
        placement = UNASSIGNED if partition is None else partition
        for attempt in range(2):
            try:
                self._producer.produce(
                    topic,
                    value,
                    key,
                    partition=placement,
                    headers=headers,
                    on_delivery=self._on_delivery,
                )
                self._producer.poll(0)
                return
            except BufferError:  # the local queue is full: drain it, then try once more
                if attempt:
                    raise BrokerUnavailable(f"could not queue for {topic}: queue full") from None
                self._producer.flush(self.timeout_s)
            except KafkaException as exc:
                raise BrokerUnavailable(f"could not send to {topic}: {exc}") from None

    def partitions(self, topic: str) -> list[int]:
        try:
            metadata = self._producer.list_topics(topic, timeout=self.timeout_s).topics[topic]
        except KafkaException as exc:
            raise BrokerUnavailable(f"could not read the partitions of {topic}: {exc}") from None
        return sorted(metadata.partitions)

    def flush(self) -> None:
        """Return once the broker acknowledged everything sent; raise otherwise."""
        if self._producer.flush(self.timeout_s) > 0 or self._failures:
            reason = self._failures[0] if self._failures else "no acknowledgement in time"
            raise BrokerUnavailable(f"the broker did not take it: {reason}")
