"""Authentication: API keys and admin users."""
