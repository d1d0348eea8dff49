"""Use cases of the simulated provider, as plain functions over the ports it needs."""
