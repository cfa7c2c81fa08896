"""Differentiation rules written once over the adapters' array vocabulary."""
