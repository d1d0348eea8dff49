"""The public API described: marshmallow schemas, the operation table, the OpenAPI document."""
