"""Emails: content, templates, link extraction and per-recipient rendering."""
