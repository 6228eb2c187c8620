"""FastAPI dependencies shared by every router: runtime, session, API key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from tidings.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    """The process runtime stored on the app."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def db_session(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Iterator[Session]:
    """One transaction per request: committed after the handler, rolled back on error."""
    with runtime.session() as session:
        yield session


def require_api_key(
    request: Request, session: Annotated[Session, Depends(db_session, scope="function")]
) -> int:
    """Check the bearer key; answers 401 when it is missing, unknown or revoked."""
    from tidings.web.auth.service import verify_api_key

    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            status_code=401,
            detail="missing bearer API key (Authorization: Bearer <key>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key_id = verify_api_key(session=session, key=token.strip())
    if key_id is None:
        raise HTTPException(
            status_code=401,
            detail="unknown or revoked API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return key_id


# scope="function": the transaction commits before the response is sent, so an
# answered write is a stored write.
SessionDep = Annotated[Session, Depends(db_session, scope="function")]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ApiKeyDep = Annotated[int, Depends(require_api_key)]
