"""Click tracking throughput: recorded clicks per second against a bare redirect."""
