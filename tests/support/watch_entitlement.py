"""One downstream service instance, as a process: an ``EntitlementsClient`` asked
``check(user, feature)`` every few milliseconds; each change of answer is printed as a JSON
line ``{"at": unix seconds, "allowed": bool, "reason": str}``. Settings come from the
environment (ATLAS_API_URL, ATLAS_API_KEY, KAFKA_BOOTSTRAP_SERVERS, ATLAS_TOPIC_PREFIX,
WATCH_MAX_AGE); ``python -m tests.support.watch_entitlement USER FEATURE``."""

from __future__ import annotations

import os
import sys
import time

import orjson

from atlas_client import EntitlementsClient

POLL_S = 0.005


def main(user: str, feature: str) -> None:
    client = EntitlementsClient(
        api_url=os.environ["ATLAS_API_URL"],
        api_key=os.environ["ATLAS_API_KEY"],
        kafka_bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        topic_prefix=os.environ.get("ATLAS_TOPIC_PREFIX", ""),
        max_age=float(os.environ.get("WATCH_MAX_AGE", "600")),
        request_timeout=0.5,
    )
    with client:
        last: tuple[bool, str] | None = None
        while True:
            decision = client.check(user, feature)
            answer = (decision.allowed, str(decision.reason))
            if answer != last:
                line = {"at": time.time(), "allowed": answer[0], "reason": answer[1]}
                sys.stdout.write(orjson.dumps(line).decode() + "\n")
                sys.stdout.flush()
                last = answer
            time.sleep(POLL_S)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
