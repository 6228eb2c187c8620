"""Tidings: self-hosted email engagement platform."""

__version__ = "0.1.0"
