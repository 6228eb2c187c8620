"""FastAPI dependencies shared by every router: runtime, session, API key, user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from tidings.runtime import Runtime
from tidings.web.access import access_of, signed_in_user


def get_runtime(request: Request) -> Runtime:
    """The process runtime stored on the app."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def db_session(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Iterator[Session]:
    """One transaction per request: committed after the handler, rolled back on error."""
    with runtime.session() as session:
        yield session


# scope="function": the transaction commits before the response is sent, so an
# answered write is a stored write. Every dependency and handler of a request takes
# this one session (FastAPI caches it per request); none opens another.
SessionDep = Annotated[Session, Depends(db_session, scope="function")]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def require_api_key(request: Request, session: SessionDep) -> int:
    """Check the bearer key; answers 401 when it is missing, unknown or revoked."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            status_code=401,
            detail="missing bearer API key (Authorization: Bearer <key>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key_id = access_of(request).api_key(session, token.strip())
    if key_id is None:
        raise HTTPException(
            status_code=401,
            detail="unknown or revoked API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return key_id


def require_user(request: Request, session: SessionDep) -> Any:
    """The signed-in user; a browser without a valid session is sent to the login page."""
    return signed_in_user(request, session)


ApiKeyDep = Annotated[int, Depends(require_api_key)]
UserDep = Annotated[Any, Depends(require_user)]
