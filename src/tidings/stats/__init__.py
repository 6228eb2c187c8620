"""Statistics: per-email and per-link counters, timeline, reconciliation (B2)."""
