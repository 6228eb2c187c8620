"""The assembly: builds the Tidings app from every domain's routers and workers.

Nothing imports it but the entry points (CLI, tests, benchmarks).
"""
