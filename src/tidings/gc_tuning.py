"""Garbage collector settings for the long-running server processes.

A click waits a few milliseconds for its batch to commit. With CPython's default
young generation (a collection every 700 net allocations) its request objects were
still alive at one or two collections and got promoted, and the promotions soon
triggered full collections, each walking every object of the loaded application and
holding every request meanwhile (figures in bench/README.md, "Measurements behind the
code"). Two settings, for the processes that serve:

- ``gc.freeze()`` once start-up is done: the application's own objects (modules,
  routes, templates, metadata) leave the collector's sight, so a full collection
  walks only what was made since;
- a young generation of 50,000 allocations: most request objects are gone by the
  time it is collected, so few are promoted. Cyclic garbage waits a little longer
  (a few megabytes at most).

Tests and tools keep Python's defaults; they create and drop whole applications,
which a freeze would keep for good.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION = 50_000


def tune_for_serving() -> None:
    """Collect once, freeze what survives, widen the young generation."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION, middle, old)
