"""payctl's command groups, one module per part of the platform."""
