"""Benchmarks of Tidings (see bench/README.md); run them with ``python -m bench.run_all``."""
