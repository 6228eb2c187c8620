"""API keys (hashed, shown once) and admin users (argon2)."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.auth.models import ApiKey, User
from tidings.db.base import utcnow
from tidings.errors import Conflict, Invalid, NotFound

KEY_PREFIX = "tdg_"
_hasher = PasswordHasher()


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(*, session: Session, name: str) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the key itself, which is never stored."""
    if not name.strip():
        raise Invalid("an API key needs a name")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name.strip(), prefix=key[:10], key_hash=_hash_key(key))
    session.add(row)
    session.flush()
    return row, key


def verify_api_key(*, session: Session, key: str) -> int | None:
    """The id of the active key matching ``key``, or None."""
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == _hash_key(key))).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    return row.id


def revoke_api_key(*, session: Session, key_id: int) -> None:
    """Revoke a key; requests with it are refused from now on."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"API key {key_id} not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    session.flush()


def list_api_keys(*, session: Session) -> list[ApiKey]:
    """All keys, newest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id.desc())))


def create_user(*, session: Session, email: str, password: str) -> User:
    """Create an admin user with an argon2 password hash."""
    address = email.strip().lower()
    if "@" not in address:
        raise Invalid("a user needs an email address")
    if len(password) < 8:
        raise Invalid("a password needs at least 8 characters")
    if session.scalars(select(User).where(User.email == address)).one_or_none():
        raise Conflict(f"a user with email {address} already exists")
    user = User(email=address, password_hash=_hasher.hash(password))
    session.add(user)
    session.flush()
    return user


def list_users(*, session: Session) -> list[User]:
    """Every admin user, oldest first."""
    return list(session.scalars(select(User).order_by(User.id)))


def authenticate(*, session: Session, email: str, password: str) -> User | None:
    """The user if the password matches, else None (same work either way)."""
    user = session.scalars(select(User).where(User.email == email.strip().lower())).one_or_none()
    if user is None:
        # Hash anyway so a missing user takes as long as a wrong password.
        _hasher.hash(password)
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user
