"""Publish a catalog version to ``atlas.catalog`` and read the latest one back.

Publishing writes the document to the compacted ``atlas.catalog`` topic, then one copy to
every partition of ``atlas.timers``. Each worker owns some of those partitions; the copy tells
it, in order with that partition's other inputs, to switch catalogs and re-derive the
partition's customers. Reading finds "the end" from fetch-response end-of-partition markers,
never from ListOffsets, which tansu answers wrongly (see README, "tansu gaps").
"""

from __future__ import annotations

import logging

import orjson
from confluent_kafka import Message

from atlas.kafka_produce import CommandProducer
from atlas.partition_reader import read_to_end
from schemas.catalog_document import CATALOG_KEY, CatalogDocument
from schemas.topics import Topics

log = logging.getLogger(__name__)

CONTROL_FIELD = "catalog"  # an atlas.timers value {"catalog": {...}} carries a new catalog


def control_message(document: CatalogDocument) -> bytes:
    return b'{"%s":' % CONTROL_FIELD.encode() + document.to_json() + b"}"


def read_published(bootstrap: str, topics: Topics, timeout_s: float = 15) -> CatalogDocument | None:
    """The highest published catalog version, or ``None`` when none was ever published."""
    latest: CatalogDocument | None = None
    for message in read_to_end(bootstrap, topics.catalog, 0, timeout_s):
        latest = _newer(latest, message)
    return latest


def _newer(latest: CatalogDocument | None, message: Message) -> CatalogDocument | None:
    try:
        document = CatalogDocument.from_json(message.value() or b"")
    except (ValueError, KeyError, TypeError) as exc:
        log.error("skipping a record on %s that is not a catalog: %s", message.topic(), exc)
        return latest
    return document if latest is None or document.version > latest.version else latest


def publish(bootstrap: str, topics: Topics, document: CatalogDocument, timeout_s: float) -> None:
    """Write ``document`` and its re-derive notices; raise if the broker did not take all."""
    producer = CommandProducer(bootstrap, timeout_s)
    producer.send(topics.catalog, document.to_json(), CATALOG_KEY)
    producer.flush()
    notice = control_message(document)
    for partition in producer.partitions(topics.timers):
        producer.send(topics.timers, notice, CATALOG_KEY, partition=partition)
    producer.flush()


def parse_control(value: bytes) -> CatalogDocument | None:
    """The catalog a timers-topic value carries, or ``None`` for a plain timer tick."""
    data = orjson.loads(value)
    if isinstance(data, dict) and CONTROL_FIELD in data:
        return CatalogDocument.from_json(orjson.dumps(data[CONTROL_FIELD]))
    return None
