"""The collector settings of the serving processes (web server, tracking writer)."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json
from tidings.gc_tuning import YOUNG_GENERATION, tune_for_serving
import tidings.assembly.app  # a loaded application, as ``tidings serve`` has one
before = (gc.get_freeze_count(), gc.get_threshold())
tune_for_serving()
print(json.dumps({"before": before, "frozen": gc.get_freeze_count(),
                  "threshold": gc.get_threshold(), "young": YOUNG_GENERATION}))
"""


def test_start_up_objects_are_frozen_and_the_young_generation_widened() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    result = json.loads(done.stdout)
    assert result["before"] == [0, [700, 10, 10]]
    # The loaded application (tens of thousands of objects) is out of the collector's way.
    assert result["frozen"] > 20_000
    assert result["threshold"] == [result["young"], 10, 10]
