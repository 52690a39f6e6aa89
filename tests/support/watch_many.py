"""One downstream instance watching many users: an ``EntitlementsClient`` warmed with every
user (one API fetch each), then asked ``has(user, feature)`` for all of them in a loop. Prints
``{"at": unix seconds, "granted": n}`` when n, the users granted, changes, and ``ready`` once
warm. ``python -m tests.support.watch_many FEATURE USER…`` with ATLAS_API_URL, ATLAS_API_KEY,
KAFKA_BOOTSTRAP_SERVERS and ATLAS_TOPIC_PREFIX in the environment."""

from __future__ import annotations

import os
import sys
import time

import orjson

from atlas_client import EntitlementsClient


def emit(line: dict[str, object]) -> None:
    sys.stdout.write(orjson.dumps(line).decode() + "\n")
    sys.stdout.flush()


def main(feature: str, users: list[str]) -> None:
    client = EntitlementsClient(
        api_url=os.environ["ATLAS_API_URL"],
        api_key=os.environ["ATLAS_API_KEY"],
        kafka_bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        topic_prefix=os.environ.get("ATLAS_TOPIC_PREFIX", ""),
    )
    with client:
        for user in users:
            client.entitlements(user)
        while not client.status().stream_ready:
            time.sleep(0.01)
        emit({"ready": True})
        last = -1
        while True:
            granted = sum(client.has(user, feature) for user in users)
            if granted != last:
                emit({"at": time.time(), "granted": granted})
                last = granted
            time.sleep(0.001)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
