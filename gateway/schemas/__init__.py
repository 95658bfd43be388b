"""Wire types and validators for the client-facing dialects."""
