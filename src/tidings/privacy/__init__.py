"""Data subject rights: export, erasure, retention (B10)."""
