"""Database: engine, sessions, column types and migrations."""
