"""API keys (hashed, shown once) and admin users (argon2 passwords)."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.auth import sessions
from tidings.auth.models import ApiKey, User
from tidings.db.base import utcnow
from tidings.errors import Conflict, Invalid, NotFound

KEY_PREFIX = "tdg_"
MIN_PASSWORD = 8
MAX_PASSWORD = 1000
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
    if "@" not in address or len(address) > 320:
        raise Invalid("a user needs an email address")
    _check_password(password)
    if session.scalars(select(User).where(User.email == address)).one_or_none():
        raise Conflict(f"a user with email {address} already exists")
    user = User(email=address, password_hash=_hasher.hash(password))
    session.add(user)
    session.flush()
    return user


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise Invalid(f"a password may have at most {MAX_PASSWORD:,} characters")


def list_users(*, session: Session) -> list[User]:
    """Every admin user, oldest first."""
    return list(session.scalars(select(User).order_by(User.id)))


def find_user(*, session: Session, email: str) -> User:
    """The user with this email address, or ``NotFound``."""
    address = email.strip().lower()
    user = session.scalars(select(User).where(User.email == address)).one_or_none()
    if user is None:
        raise NotFound(f"no user with email {address}")
    return user


def set_password(*, session: Session, user: User, password: str) -> int:
    """Give ``user`` a new password and end every session of theirs (the caller may
    start a new one for the browser that asked); returns how many ended."""
    _check_password(password)
    user.password_hash = _hasher.hash(password)
    ended = sessions.end_all(session=session, user_id=user.id)
    session.flush()
    return ended


def change_password(*, session: Session, user: User, current: str, new: str) -> int:
    """A user changing their own password, which they must give first."""
    if not _matches(user, current):
        raise Invalid("your current password is not right")
    return set_password(session=session, user=user, password=new)


def remove_user(*, session: Session, user_id: int, acting_user_id: int | None = None) -> User:
    """Remove a user and end their sessions; never oneself, never the last user."""
    # Lock every user row, so two removals at once cannot leave nobody.
    ids = list(session.scalars(select(User.id).order_by(User.id).with_for_update()))
    user = session.get(User, user_id) if user_id in ids else None
    if user is None:
        raise NotFound(f"user {user_id} not found")
    if user.id == acting_user_id:
        raise Conflict("you cannot remove yourself; another user can")
    if len(ids) <= 1:
        raise Conflict("the last user cannot be removed: nobody could sign in any more")
    sessions.end_all(session=session, user_id=user.id)
    session.delete(user)
    session.flush()
    return user


def _matches(user: User, password: str) -> bool:
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    return True


def authenticate(*, session: Session, email: str, password: str) -> User | None:
    """The user if the password matches, else None (same work either way)."""
    user = session.scalars(select(User).where(User.email == email.strip().lower())).one_or_none()
    if user is None:
        # Hash anyway so a missing user takes as long as a wrong password.
        _hasher.hash(password)
        return None
    return user if _matches(user, password) else None
