"""Subscription forms, double opt-in, the preference center and consent records (B14)."""
