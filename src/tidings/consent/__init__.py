"""Consents: versioned definitions, agreements and the tracking policy (B1, B9)."""
