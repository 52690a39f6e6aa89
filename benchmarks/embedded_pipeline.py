"""The services every benchmark runs on: a throwaway embedded broker and Postgres database,
and a `Pipeline` (tests/support/pipeline.py) over them in a temporary folder."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from atlas.embedded import EmbeddedKafka, embedded_postgres
from tests.support.database import create_database
from tests.support.pipeline import Pipeline


@contextmanager
def embedded_pipeline(**env: str) -> Iterator[Pipeline]:
    """A pipeline not yet started (``.start()`` runs every service); ``env`` goes to them."""
    with (
        tempfile.TemporaryDirectory() as work,
        EmbeddedKafka(log_path=Path(work) / "tansu.log") as kafka,
        embedded_postgres() as admin,
    ):
        yield Pipeline(kafka.bootstrap, create_database(admin), Path(work), **env)
