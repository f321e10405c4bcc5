"""managed-services engine."""
