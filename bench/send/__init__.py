"""Sending throughput and memory: a personalized, tracked mailout to smtp-sink."""
