"""The REST API under /api/v1/, with its OpenAPI schema at /api/schema/."""
