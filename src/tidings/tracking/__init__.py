"""Tracking: signed tokens, click/open/unsubscribe endpoints, classifier, event writer."""
