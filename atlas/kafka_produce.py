"""A blocking producer for commands (``atlas catalog apply``, ``atlas grant``…): send, then
wait until the broker has taken everything, or raise :class:`BrokerUnavailable`."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from atlas.kafka_topics import BrokerUnavailable


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

    def send(self, topic: str, value: bytes, key: bytes, partition: int | None = None) -> None:
        try:
            if partition is None:
                self._producer.produce(topic, value, key, on_delivery=self._on_delivery)
            else:
                self._producer.produce(
                    topic, value, key, partition=partition, on_delivery=self._on_delivery
                )
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
