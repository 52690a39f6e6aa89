"""Publish raw Stripe events to Kafka and await the broker's acknowledgement.

One idempotent confluent-kafka producer (``acks=all``) per process; a background thread serves
its delivery callbacks and hands each result to the awaiting request on the event loop. The
partitioner is ``murmur2_random``, the Java client's, so the Faust worker (aiokafka) and any
Java consumer agree on which partition holds a customer.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from atlas.errors import AtlasError

log = logging.getLogger(__name__)


class PublishError(AtlasError):
    """The broker did not acknowledge the event; the webhook must be retried by Stripe."""


# Errors after which a producer instance is unusable: librdkafka says to make a new one.
_REPLACE_ON = frozenset(
    {
        KafkaError._FENCED,
        KafkaError.PRODUCER_FENCED,
        KafkaError.INVALID_PRODUCER_EPOCH,
        KafkaError._FATAL,
    }
)


class Publisher:
    def __init__(self, bootstrap: str, topic: str, ack_timeout_s: float) -> None:
        self._topic = topic
        self._ack_timeout_s = ack_timeout_s
        self._config = {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "partitioner": "murmur2_random",
            "linger.ms": 1,
            "message.timeout.ms": max(30_000, int(ack_timeout_s * 2000)),
            "socket.keepalive.enable": True,
            "error_cb": self._on_error,
        }
        self._broken = False
        self._producer = Producer(self._config)
        self._running = True
        self._poller = threading.Thread(target=self._poll, name="kafka-delivery", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while self._running:
            self._producer.poll(0.05)

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal() or error.code() in _REPLACE_ON:
            self._broken = True

    def _replace_if_broken(self) -> None:
        """A fenced or fatally failed producer refuses everything from then on (seen after a
        broker outage on tansu): make a new one. What the old one held was never acknowledged,
        so those webhooks were answered 503 and Stripe retries them."""
        if not self._broken:
            return
        broken, self._broken = self._producer, False
        self._producer = Producer(self._config)
        broken.purge()
        log.warning("the Kafka producer failed for good (fenced or fatal); replaced it")

    async def publish(self, key: str, value: bytes, headers: Sequence[tuple[str, bytes]]) -> None:
        """Return once the broker has the event; raise :class:`PublishError` otherwise."""
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[None] = loop.create_future()
        acked.add_done_callback(_retrieve)  # a late result after a timeout is not an error

        def on_delivery(error: KafkaError | None, _message: Message) -> None:
            if error is not None and (error.fatal() or error.code() in _REPLACE_ON):
                self._broken = True
            loop.call_soon_threadsafe(_settle, acked, error)

        self._replace_if_broken()
        try:
            self._producer.produce(
                self._topic, value=value, key=key, headers=list(headers), on_delivery=on_delivery
            )
        except (BufferError, KafkaException) as exc:
            raise PublishError(f"producer refused the event: {exc}") from None
        try:
            await asyncio.wait_for(asyncio.shield(acked), self._ack_timeout_s)
        except TimeoutError:
            raise PublishError(f"no broker acknowledgement in {self._ack_timeout_s} s") from None

    def broker_reachable(self, timeout_s: float = 2.0) -> bool:
        try:
            self._producer.list_topics(self._topic, timeout=timeout_s)
        except KafkaException:
            return False
        return True

    def close(self, flush_timeout_s: float = 10.0) -> None:
        self._producer.flush(flush_timeout_s)
        self._running = False
        self._poller.join()


def _settle(acked: asyncio.Future[None], error: KafkaError | None) -> None:
    if acked.done():
        return
    if error is None:
        acked.set_result(None)
    else:
        acked.set_exception(PublishError(f"broker rejected the event: {error.str()}"))


def _retrieve(acked: asyncio.Future[None]) -> None:
    if not acked.cancelled():
        acked.exception()
