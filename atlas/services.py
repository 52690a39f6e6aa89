"""Entry points of the long-running services, composed from settings (used by ``atlas``)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

from atlas.catalog import Catalog, load_catalog, parse_catalog
from atlas.catalog_topic import read_published
from atlas.http_protocol import deadline_protocol
from atlas.kafka_topics import ensure_topics
from atlas.metrics import serve_metrics
from atlas.settings import Settings, load_settings
from schemas.catalog_document import CatalogDocument
from schemas.topics import Topics


def _ensure_topics(settings: Settings) -> None:
    topics = Topics.with_prefix(settings.topic_prefix)
    ensure_topics(settings.kafka_bootstrap_servers, topics, settings.topic_partitions)


def current_catalog(settings: Settings) -> Catalog:
    """The latest catalog published on ``atlas.catalog``; before the first ``atlas catalog
    apply``, the file ``ATLAS_CATALOG`` (or the bundled default)."""
    topics = Topics.with_prefix(settings.topic_prefix)
    return catalog_of(settings, read_published(settings.kafka_bootstrap_servers, topics))


def catalog_of(settings: Settings, document: CatalogDocument | None) -> Catalog:
    """``document`` as a catalog with this process's price-id settings; the file without one."""
    if document is None:
        return load_catalog(settings.catalog_path, settings.price_ids)
    source = f"published catalog version {document.version}"
    return parse_catalog(document.source, settings.price_ids, source, document.version)


# uvloop and httptools when installed (Atlas depends on uvicorn[standard]); the benchmark's
# reference endpoint (benchmarks/trivial_webhook.py) runs with the same options.
INGRESS_UVICORN_OPTIONS: dict[str, Any] = {"log_level": "warning", "timeout_keep_alive": 30}


def run_ingress(host: str, port: int) -> int:
    import uvicorn

    from api.auth import Authenticator, verifiers_from_env
    from ingress.app import create_app

    # the operator's page (/admin) needs both; malformed values stop the ingress at start
    has_database = bool(os.environ.get("DATABASE_URL", "").strip())
    settings = load_settings(need_webhook_secret=True, need_database=has_database)
    verifiers = verifiers_from_env(os.environ)
    _ensure_topics(settings)
    authenticator = Authenticator(verifiers) if verifiers else None
    uvicorn.run(
        create_app(settings, authenticator=authenticator),
        host=host,
        port=port,
        limit_concurrency=settings.max_connections,
        http=deadline_protocol(settings.header_timeout_s),
        **INGRESS_UVICORN_OPTIONS,
    )
    return 0


def run_api(host: str, port: int) -> int:
    import uvicorn

    from api.app import create_app
    from api.auth import authenticator_from_env
    from api.stripe_billing import StripeBilling
    from ingress.publisher import Publisher
    from sinks.database import async_engine

    settings = load_settings(need_database=True)
    authenticator = authenticator_from_env(os.environ)
    fallback = load_catalog(settings.catalog_path, settings.price_ids)
    _ensure_topics(settings)
    topics = Topics.with_prefix(settings.topic_prefix)
    publisher = Publisher(
        settings.kafka_bootstrap_servers, topics.overrides, settings.publish_timeout_s
    )
    engine = async_engine(settings.database_url)
    app = create_app(
        engine,
        authenticator,
        fallback,
        price_ids=dict(settings.price_ids),
        overrides_publisher=publisher,
        billing=StripeBilling.from_settings(settings),
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_keep_alive=30,
        limit_concurrency=settings.max_connections,
        http=deadline_protocol(settings.header_timeout_s),
    )
    return 0


def run_worker() -> int:
    import faust

    from atlas.worker_generation import current_generation, worker_app_id
    from streams.app import create_app
    from streams.fetch_wait import use_fetch_max_wait

    settings = load_settings()
    _ensure_topics(settings)
    catalog = current_catalog(settings)
    settings.worker_data_dir.mkdir(parents=True, exist_ok=True)
    generation = current_generation(settings, Topics.with_prefix(settings.topic_prefix))
    app_id = worker_app_id(settings, generation.number if generation else 0)
    logging.getLogger(__name__).info("worker group and state: %s", app_id)
    use_fetch_max_wait(settings.fetch_max_wait_ms)
    app = create_app(settings, catalog, app_id)
    serve_metrics(settings)
    faust_level = os.environ.get("ATLAS_FAUST_LOG_LEVEL", "WARNING").upper()
    for library in ("faust", "mode", "aiokafka"):
        logging.getLogger(library).setLevel(faust_level)
    worker = faust.Worker(app, loglevel=faust_level, override_logging=False)
    worker.execute_from_commandline()
    return 0


def run_sink() -> int:
    from sinks.database import async_engine
    from sinks.runner import PostgresSink

    settings = load_settings(need_database=True)
    _ensure_topics(settings)
    serve_metrics(settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        engine = async_engine(settings.database_url)
        try:
            await PostgresSink(settings, engine).run(stop)
        finally:
            await engine.dispose()

    asyncio.run(main())
    return 0


def run_migrate() -> int:
    from sinks.database import migrate

    settings = load_settings(need_database=True)
    migrate(settings.database_url)
    print("atlas migrate: schema is up to date")
    return 0
