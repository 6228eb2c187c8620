"""Tests of the tracking domain: tokens and the batching event writer."""
