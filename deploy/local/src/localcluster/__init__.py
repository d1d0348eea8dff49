"""Runs the platform's infrastructure and services on one machine without Docker."""
