"""The click benchmark's server: the product app as ``tidings serve --no-workers``
runs it (one uvicorn process, uvloop, httptools, and the tracking writer process it
starts), in one of two modes.

    python -m bench.clicks.server --port P --mode recorded|baseline

``recorded`` is the product unchanged. ``baseline`` is the same app and the same
``/t/c/{token}`` route (verify the token, look the link up, classify, redirect) with a
writer that stores nothing, so the two differ exactly by durable recording.
``--tracking-first`` measures a proposed change (tracking routes matched first).
Nothing here is added to the product.
"""

from __future__ import annotations

import argparse

import uvicorn

from tidings.assembly.app import asgi_entry, create_app
from tidings.config import get_settings
from tidings.gc_tuning import tune_for_serving
from tidings.runtime import Runtime
from tidings.tracking.events import TrackedEvent


class NullWriter:
    """Stands in for ``EventWriter``: answers at once and stores nothing."""

    policy = None

    async def record(self, event: TrackedEvent) -> None:
        """Drop ``event``."""


def main() -> None:
    """Serve until terminated."""
    parser = argparse.ArgumentParser(description="Tidings click benchmark server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=["recorded", "baseline"], default="recorded")
    args = parser.parse_args()
    runtime = Runtime(get_settings())
    app = create_app(runtime, workers=False, mailcatcher=False)
    if args.mode == "baseline":
        app.state.writer = NullWriter()
    tune_for_serving()  # as ``tidings serve`` does, in both modes
    uvicorn.run(
        asgi_entry(app),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # as ``tidings serve``
    )


if __name__ == "__main__":
    main()
