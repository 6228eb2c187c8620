"""Tests of the emails domain: link positions and rendering."""
