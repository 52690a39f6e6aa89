"""Engines and migrations for the Postgres database named by DATABASE_URL."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from atlas.errors import AtlasError
from atlas.redact import redact_url


class DatabaseUnavailable(AtlasError):
    """Postgres at DATABASE_URL did not accept a connection."""


def sqlalchemy_url(database_url: str) -> str:
    """``postgresql://`` URLs as users write them, with the psycopg 3 driver named."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


def sync_engine(database_url: str) -> Engine:
    return create_engine(sqlalchemy_url(database_url), pool_pre_ping=True)


def async_engine(database_url: str) -> AsyncEngine:
    return create_async_engine(sqlalchemy_url(database_url), pool_pre_ping=True)


def migrate(database_url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent; what ``atlas migrate`` runs)."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("sinks") / "migrations"))
    engine = sync_engine(database_url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "connection failed"
        raise DatabaseUnavailable(
            f"could not migrate {redact_url(database_url)}: {reason}"
        ) from None
    finally:
        engine.dispose()
