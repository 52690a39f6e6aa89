"""Real services for the tests: one broker and one Postgres server per test session.

``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL``, when set, point the tests at existing
services (the database URL is used as an admin connection: each module creates its own
database); otherwise the embedded tansu broker and a throwaway Postgres are started.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from atlas.embedded import EmbeddedKafka, embedded_postgres
from tests.support.database import create_database, drop_database
from tests.support.pipeline import Pipeline
from tests.support.stripe_api import SECRET_KEY as STRIPE_SECRET_KEY
from tests.support.stripe_api import FakeStripeApi


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with EmbeddedKafka(log_path=log) as broker:
        yield broker.bootstrap


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield configured
        return
    with embedded_postgres() as url:
        yield url


@pytest.fixture(scope="module")
def database_url(postgres_admin_url: str) -> Iterator[str]:
    url = create_database(postgres_admin_url)
    yield url
    drop_database(postgres_admin_url, url)


@pytest.fixture(scope="module")
def pipeline(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pipeline]:
    """The services, configured by the test module: ``PIPELINE_ENV`` (a dict, or a function
    of the work directory giving one) adds settings; ``USES_STRIPE_API = True`` points the
    services at the ``stripe_api`` server."""
    workdir: Path = tmp_path_factory.mktemp("pipeline")
    extra = getattr(request.module, "PIPELINE_ENV", {})
    env = dict(extra(workdir) if callable(extra) else extra)
    if getattr(request.module, "USES_STRIPE_API", False):
        env.update(request.getfixturevalue("stripe_api").settings)
    running = Pipeline(kafka_bootstrap, database_url, workdir, **env).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def stripe_api() -> Iterator[FakeStripeApi]:
    """A Stripe-compatible API for the modules whose worker asks Stripe (pass its
    ``settings`` to the module's ``Pipeline``)."""
    api = FakeStripeApi(STRIPE_SECRET_KEY).start()
    yield api
    api.stop()
