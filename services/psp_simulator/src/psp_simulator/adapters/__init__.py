"""The provider's state in Redis and its webhooks over HTTP."""
