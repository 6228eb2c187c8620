"""Recipient lists and subscriptions."""
