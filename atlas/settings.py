"""Configuration from environment variables, validated once at start.

Every command builds one frozen :class:`Settings` from the environment. A missing or malformed
variable raises :class:`SettingsError` whose message names the variable, and the CLI prints
that one line and exits. Secrets are kept out of ``repr`` so they never reach a log.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from atlas.errors import AtlasError

_PRICE_VAR = re.compile(r"^STRIPE_PRICE_ID_([A-Z0-9_]+)$")
_PRICE_ID = re.compile(r"^[A-Za-z0-9_\-.:]+$")


class SettingsError(AtlasError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap_servers: str
    database_url: str
    webhook_secrets: tuple[str, ...] = field(repr=False)
    stripe_secret_key: str | None = field(repr=False)
    stripe_api_base: str | None
    price_ids: Mapping[str, tuple[str, ...]]
    catalog_path: Path | None
    topic_prefix: str
    topic_partitions: int
    publish_timeout_s: float
    timer_interval_s: float
    worker_id: str
    worker_store: str
    worker_data_dir: Path
    group_timeout_ms: int
    worker_producer_batch_bytes: int | None
    recovery_consistency_check: bool
    stall_after_s: float
    fetch_max_wait_ms: int
    checkout_success_url: str | None = None
    checkout_cancel_url: str | None = None
    portal_return_url: str | None = None
    metrics_port: int = 0  # worker and sink: GET /metrics here; 0 = off
    metrics_host: str = "127.0.0.1"
    header_timeout_s: float = 10.0  # ingress, api: a request's headers must arrive by then
    max_connections: int = 4096  # ingress, api: open connections before a plain 503
    max_webhooks_in_flight: int = 256  # ingress: webhooks handled at once before 503


def _split(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _positive_number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be greater than 0, got {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        raise SettingsError(f"{name} must be true or false, got {raw!r}")
    return raw in ("1", "true", "yes", "on")


def _optional_int(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise SettingsError(f"{name} must be a whole number >= 1, got {raw!r}")
    return int(raw)


def _whole_number(env: Mapping[str, str], name: str, default: int) -> int:
    return _optional_int(env, name) or default


def _price_ids(env: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    tiers: dict[str, tuple[str, ...]] = {}
    for name, raw in env.items():
        match = _PRICE_VAR.match(name)
        if not match:
            continue
        ids = _split(raw)
        bad = [price for price in ids if not _PRICE_ID.match(price)]
        if not ids or bad:
            raise SettingsError(f"{name} must be a comma-separated list of Stripe price ids")
        tiers[match.group(1).lower()] = ids
    return tiers


def _webhook_secrets(env: Mapping[str, str], required: bool) -> tuple[str, ...]:
    secrets = _split(env.get("STRIPE_WEBHOOK_SECRET", ""))
    if required and not secrets:
        raise SettingsError("STRIPE_WEBHOOK_SECRET is not set (comma-separated whsec_... secrets)")
    if any(not secret.startswith("whsec_") for secret in secrets):
        raise SettingsError("STRIPE_WEBHOOK_SECRET entries must each start with 'whsec_'")
    return secrets


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is not set")
    return value


def _database_url(env: Mapping[str, str]) -> str:
    url = _required(env, "DATABASE_URL")
    if not url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        raise SettingsError("DATABASE_URL must be a postgresql:// URL")
    return url


def _catalog_path(env: Mapping[str, str]) -> Path | None:
    raw = env.get("ATLAS_CATALOG", "").strip()
    if not raw:
        return None
    path = Path(raw)
    if not path.is_file():
        raise SettingsError(f"ATLAS_CATALOG points at {raw!r}, which is not a readable file")
    return path


def _port(env: Mapping[str, str], name: str) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return 0
    if not raw.isdigit() or int(raw) > 65535:
        raise SettingsError(f"{name} must be a port number (0 = off), got {raw!r}")
    return int(raw)


def _url(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if not raw.startswith(("https://", "http://")):
        raise SettingsError(f"{name} must be an http(s):// URL, got {raw!r}")
    return raw


def load_settings(
    env: Mapping[str, str] | None = None,
    *,
    need_webhook_secret: bool = False,
    need_database: bool = False,
) -> Settings:
    """Read settings from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    worker_store = env.get("ATLAS_WORKER_STORE", "memory://").strip()
    if not worker_store.startswith(("memory://", "rocksdb://")):
        raise SettingsError("ATLAS_WORKER_STORE must be memory:// or rocksdb://")
    if worker_store.startswith("rocksdb://") and importlib.util.find_spec("rocksdict") is None:
        raise SettingsError("ATLAS_WORKER_STORE=rocksdb:// needs rocksdict: pip install rocksdict")
    partitions = _positive_number(env, "ATLAS_TOPIC_PARTITIONS", 8)
    if partitions != int(partitions):
        raise SettingsError("ATLAS_TOPIC_PARTITIONS must be a whole number")
    return Settings(
        kafka_bootstrap_servers=_required(env, "KAFKA_BOOTSTRAP_SERVERS"),
        database_url=_database_url(env) if need_database else env.get("DATABASE_URL", ""),
        webhook_secrets=_webhook_secrets(env, required=need_webhook_secret),
        stripe_secret_key=env.get("STRIPE_SECRET_KEY", "").strip() or None,
        stripe_api_base=env.get("STRIPE_API_BASE", "").strip() or None,
        price_ids=_price_ids(env),
        catalog_path=_catalog_path(env),
        topic_prefix=env.get("ATLAS_TOPIC_PREFIX", "").strip(),
        topic_partitions=int(partitions),
        publish_timeout_s=_positive_number(env, "ATLAS_PUBLISH_TIMEOUT", 5.0),
        timer_interval_s=_positive_number(env, "ATLAS_TIMER_INTERVAL", 30.0),
        worker_id=env.get("ATLAS_WORKER_ID", "atlas-worker").strip() or "atlas-worker",
        worker_store=worker_store,
        worker_data_dir=Path(env.get("ATLAS_WORKER_DATA_DIR", ".atlas/worker-data")),
        group_timeout_ms=int(_positive_number(env, "ATLAS_GROUP_TIMEOUT_MS", 30000)),
        worker_producer_batch_bytes=_optional_int(env, "ATLAS_WORKER_PRODUCER_BATCH_BYTES"),
        recovery_consistency_check=_flag(env, "ATLAS_RECOVERY_CONSISTENCY_CHECK", default=True),
        stall_after_s=_positive_number(env, "ATLAS_STALL_SECONDS", 30.0),
        fetch_max_wait_ms=int(_positive_number(env, "ATLAS_FETCH_MAX_WAIT_MS", 500)),
        checkout_success_url=_url(env, "ATLAS_CHECKOUT_SUCCESS_URL"),
        checkout_cancel_url=_url(env, "ATLAS_CHECKOUT_CANCEL_URL"),
        portal_return_url=_url(env, "ATLAS_PORTAL_RETURN_URL"),
        metrics_port=_port(env, "ATLAS_METRICS_PORT"),
        metrics_host=env.get("ATLAS_METRICS_HOST", "127.0.0.1").strip() or "127.0.0.1",
        header_timeout_s=_positive_number(env, "ATLAS_HEADER_TIMEOUT", 10.0),
        max_connections=_whole_number(env, "ATLAS_MAX_CONNECTIONS", 4096),
        max_webhooks_in_flight=_whole_number(env, "ATLAS_MAX_IN_FLIGHT", 256),
    )
