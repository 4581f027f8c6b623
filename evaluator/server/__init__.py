"""The rzoo evaluation server: submissions, a job queue with workers, and web leaderboards.

>>> from evaluator.server import ServerConfig, create_app   # doctest: +SKIP
>>> app = create_app(ServerConfig(home=Path("/srv/rzoo")))  # an ASGI app; migrations applied

Pieces (one job each): ``models``/``migrations`` (schema), ``db`` (engines, Alembic), ``auth``
(tokens), ``safety``/``store``/``uploads`` (untrusted files), ``queue`` (atomic claims, leases),
``worker``/``runner`` (limited child processes), ``leaderboard``/``charts``/``web`` (pages),
``app`` (HTTP API), ``serve`` (``rzoo serve``), ``client`` (``rzoo submit``).
"""

from __future__ import annotations

from evaluator.server.config import ServerConfig


def create_app(config: ServerConfig, engine=None):
    from evaluator.server.app import create_app as _create_app

    return _create_app(config, engine)


__all__ = ["ServerConfig", "create_app"]
