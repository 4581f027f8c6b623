"""Alembic environment: migrations run on the connection the server hands over (see ``db.migrate``)."""

from __future__ import annotations

from alembic import context

from evaluator.server.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - rzoo always passes a connection
    raise RuntimeError("run migrations through evaluator.server.db.migrate(url)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
