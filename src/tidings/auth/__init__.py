"""Who may use Tidings: admin users and their sessions, sign-in, and REST API keys."""
