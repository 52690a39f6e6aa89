"""Alembic environment: runs migrations on the connection ``sinks.schema.migrate`` hands over."""

from __future__ import annotations

from alembic import context

from sinks.models import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
