"""The other process of `benchmarks/end_to_end_latency.py`: one client-library instance
following ``atlas.entitlements.changes``. Reads user ids from stdin (one per line, then an
empty line), prints ``ready``, then ``USER UNIX_SECONDS`` the moment a cached check grants
FEATURE to each (no API call: ``check_cached`` never does I/O).

    python -m benchmarks.latency_watcher FEATURE   (environment as the benchmark sets it)
"""

from __future__ import annotations

import os
import sys
import time

from atlas_client import EntitlementsClient


def main(feature: str) -> None:
    pending = set()
    for line in sys.stdin:
        if not line.strip():
            break
        pending.add(line.strip())
    client = EntitlementsClient(
        api_url=os.environ["ATLAS_API_URL"],
        api_key=os.environ["ATLAS_API_KEY"],
        kafka_bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        topic_prefix=os.environ["ATLAS_TOPIC_PREFIX"],
        kafka_config={"fetch.wait.max.ms": int(os.environ["LATENCY_FETCH_WAIT_MS"])},
    )
    with client:
        while not client.status().stream_ready:
            time.sleep(0.01)
        print("ready", flush=True)
        while pending:
            for user in list(pending):
                decision = client.check_cached(user, feature)
                if decision is not None and decision.allowed:
                    print(user, time.time(), flush=True)
                    pending.discard(user)
            time.sleep(0.0005)


if __name__ == "__main__":
    main(sys.argv[1])
