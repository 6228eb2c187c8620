"""Trigger kinds, one module each, listed in ``registry.TRIGGERS``."""
