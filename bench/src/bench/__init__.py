"""Benchmarks of the platform: an open-loop load driver and what it measures."""
