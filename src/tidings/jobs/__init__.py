"""The job queue: embedded (SQLite file in the data dir) or Redis, and its registry."""
