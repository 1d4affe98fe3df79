"""Core services: the unit registry, the error hierarchy, catalog loading."""
