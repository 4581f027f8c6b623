"""API tokens: random, shown once, stored as sha256, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from evaluator.server.models import ApiToken, User
from zoo.errors import InvalidInputError

TOKEN_PREFIX = "rzoo_"
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    user_id: int
    name: str
    is_admin: bool


def hash_token(token: str) -> str:
    # A 256-bit random secret needs no salt or slow KDF: sha256 is not invertible for it.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user_name: str, *, admin: bool = False) -> str:
    """Create the user if needed (``admin`` promotes an existing one) and return a fresh token."""
    if not USER_NAME.match(user_name):
        raise InvalidInputError(f"invalid user name {user_name!r}: letters, digits, '_', '.', '-' (up to 64)")
    user = session.scalar(select(User).where(User.name == user_name))
    if user is None:
        user = User(name=user_name, is_admin=admin)
        session.add(user)
        session.flush()
    elif admin and not user.is_admin:
        user.is_admin = True
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_sha256=hash_token(token), prefix=token[:12], revoked=False))
    return token


def authenticate(session: Session, token: str) -> Principal | None:
    """The principal a token belongs to, or ``None``."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = hash_token(token)
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest))
    # The lookup is by digest; compare again in constant time so no timing leaks through equality.
    if row is None or row.revoked or not hmac.compare_digest(row.token_sha256, digest):
        return None
    user = row.user
    return Principal(user_id=user.id, name=user.name, is_admin=user.is_admin)
