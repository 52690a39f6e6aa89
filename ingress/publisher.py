"""Publish raw Stripe events to Kafka and await the broker's acknowledgement.

One idempotent confluent-kafka producer (``acks=all``) per process. Its delivery callbacks are
served on the event loop itself, by a poll every millisecond while acknowledgements are
outstanding: a thread of its own cost ~40 µs a webhook in GIL hand-offs and wake-ups. The
partitioner is ``murmur2_random``, the Java client's, so the Faust worker (aiokafka) and any
Java consumer agree on which partition holds a customer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from atlas.errors import AtlasError

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.001


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
        self._outstanding = 0  # published, not yet acknowledged or refused
        self._poll_timer: asyncio.TimerHandle | None = None

    def _poll_soon(self) -> None:
        if self._poll_timer is None:
            loop = asyncio.get_running_loop()
            self._poll_timer = loop.call_later(POLL_INTERVAL_S, self._poll)

    def _poll(self) -> None:
        self._poll_timer = None
        self._producer.poll(0)  # runs the delivery callbacks, here on the event loop
        if self._outstanding:
            self._poll_soon()

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
        broken.poll(0)  # its callbacks answer what it held (503) and settle the count
        log.warning("the Kafka producer failed for good (fenced or fatal); replaced it")

    async def publish(self, key: str, value: bytes, headers: Sequence[tuple[str, bytes]]) -> None:
        """Return once the broker has the event; raise :class:`PublishError` otherwise."""
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acked.add_done_callback(_retrieve)  # a late result after a timeout is not an error

        def on_delivery(error: KafkaError | None, _message: Message) -> None:
            self._outstanding -= 1
            if error is not None and (error.fatal() or error.code() in _REPLACE_ON):
                self._broken = True
            _settle(acked, error)

        self._replace_if_broken()
        try:
            self._producer.produce(
                self._topic, value=value, key=key, headers=list(headers), on_delivery=on_delivery
            )
        except (BufferError, KafkaException) as exc:
            raise PublishError(f"producer refused the event: {exc}") from None
        self._outstanding += 1
        self._poll_soon()
        try:
            async with asyncio.timeout(self._ack_timeout_s):  # no task, unlike wait_for
                await acked
        except TimeoutError:
            raise PublishError(f"no broker acknowledgement in {self._ack_timeout_s} s") from None

    def broker_reachable(self, timeout_s: float = 2.0) -> bool:
        try:
            self._producer.list_topics(self._topic, timeout=timeout_s)
        except KafkaException:
            return False
        return True

    def close(self, flush_timeout_s: float = 10.0) -> None:
        """Deliver what is queued (the server has answered every request by now)."""
        self._producer.flush(flush_timeout_s)


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
