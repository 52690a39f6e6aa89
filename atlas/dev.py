"""``atlas dev``: Atlas on one machine in one command.

Starts the embedded broker when KAFKA_BOOTSTRAP_SERVERS is unset and a throwaway Postgres when
DATABASE_URL is unset, makes up a webhook signing secret when STRIPE_WEBHOOK_SECRET is unset,
makes up a service API key when no API authentication is configured, migrates, then runs
ingress, API, worker and sink as child processes until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from atlas.embedded import EmbeddedKafka, embedded_postgres
from atlas.errors import AtlasError
from atlas.redact import redact_url
from sinks.database import migrate

# tansu makes a new consumer group's first join wait about half the session timeout.
DEV_GROUP_TIMEOUT_MS = "2000"
# tansu reports a partition's high watermark as its last batch's base offset + 1, so Faust's
# table recovery stops short of batched changelog records: one record per batch keeps it exact.
TANSU_PRODUCER_BATCH_BYTES = "1"
# tansu answers a long-polling fetch at its deadline, not when data arrives: wait less.
TANSU_FETCH_MAX_WAIT_MS = "100"


@contextlib.contextmanager
def _kafka(env: dict[str, str], state_dir: Path) -> Iterator[None]:
    if env.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield
        return
    with EmbeddedKafka(log_path=state_dir / "tansu.log") as broker:
        env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap
        env.setdefault("ATLAS_GROUP_TIMEOUT_MS", DEV_GROUP_TIMEOUT_MS)
        env.setdefault("ATLAS_WORKER_PRODUCER_BATCH_BYTES", TANSU_PRODUCER_BATCH_BYTES)
        env.setdefault("ATLAS_FETCH_MAX_WAIT_MS", TANSU_FETCH_MAX_WAIT_MS)
        yield


@contextlib.contextmanager
def _postgres(env: dict[str, str]) -> Iterator[None]:
    if env.get("DATABASE_URL"):
        yield
        return
    with embedded_postgres() as url:
        env["DATABASE_URL"] = url
        yield


AUTH_VARIABLES = (
    "ATLAS_API_KEYS",
    "ATLAS_AUTH_JWT_SECRET",
    "ATLAS_AUTH_JWKS_URL",
    "ATLAS_AUTH_CALLABLE",
)


def _children(
    env: dict[str, str], host: str, port: int, api_port: int
) -> dict[str, subprocess.Popen[bytes]]:
    atlas = [sys.executable, "-m", "atlas.cli"]
    commands = {
        "ingress": [*atlas, "ingress", "--host", host, "--port", str(port)],
        "api": [*atlas, "api", "--host", host, "--port", str(api_port)],
        "worker": [*atlas, "worker"],
        "sink": [*atlas, "sink"],
    }
    return {name: subprocess.Popen(command, env=env) for name, command in commands.items()}  # noqa: S603


def _stop(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in children.values():
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops everything the way Ctrl-C does


def run_dev(host: str, port: int, api_port: int) -> int:
    # Both stop everything. SIGINT is set too: a process started in the background by a
    # non-interactive shell (CI runners, `cmd &`) inherits SIGINT ignored, and Ctrl-C or
    # `kill -INT` would then do nothing.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    env = dict(os.environ)
    state_dir = Path(env.get("ATLAS_DEV_DIR", ".atlas"))
    state_dir.mkdir(parents=True, exist_ok=True)
    secret = env.setdefault("STRIPE_WEBHOOK_SECRET", f"whsec_dev_{secrets.token_hex(16)}")
    env.setdefault("ATLAS_WORKER_DATA_DIR", str(state_dir / "worker-data"))
    api_key = None
    if not any(env.get(name) for name in AUTH_VARIABLES):
        api_key = f"atlas_dev_{secrets.token_hex(16)}"
        env["ATLAS_API_KEYS"] = f"dev:{api_key}"
    with _kafka(env, state_dir), _postgres(env):
        migrate(env["DATABASE_URL"])
        children = _children(env, host, port, api_port)
        key_line = f"  API key         {api_key}\n" if api_key else ""
        print(
            "\nAtlas is running.\n"
            f"  webhook URL     http://{host}:{port}/stripe/webhook\n"
            f"  signing secret  {secret.split(',')[0]}\n"
            f"  API URL         http://{host}:{api_port}/v1/users/{{user_id}}/entitlements\n"
            f"{key_line}"
            f"  operator page   http://{host}:{port}/admin (sign in with a service API key)\n"
            f"  Kafka           {env['KAFKA_BOOTSTRAP_SERVERS']}\n"
            f"  database URL    {redact_url(env['DATABASE_URL'])}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        try:
            while all(child.poll() is None for child in children.values()):
                time.sleep(0.5)
            stopped = [name for name, child in children.items() if child.poll() is not None]
            raise AtlasError(f"atlas {stopped[0]} stopped unexpectedly; see its output above")
        except KeyboardInterrupt:
            pass
        finally:
            _stop(children)
    return 0
