"""API gateway: merchants, API keys, token issuing and the public /v1 API."""
