"""Alembic environment for oboptim databases.

oboptim runs migrations programmatically (`oboptim.storage.upgrade`), passing an open connection in
`config.attributes["connection"]`; that connection already holds the write lock, so concurrent openers queue.
A `sqlalchemy.url` main option is honoured too, for running alembic by hand.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from oboptim.storage._models import Base


def _run_with_connection(connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run_with_connection(connection)
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.connect() as fresh_connection:
        _run_with_connection(fresh_connection)
    engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("oboptim migrations run online only: use `oboptim upgrade --storage URL`")
run_migrations_online()
