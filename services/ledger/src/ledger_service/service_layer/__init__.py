"""Use cases: posting events, adjustments, reads, verification and rebuild."""
