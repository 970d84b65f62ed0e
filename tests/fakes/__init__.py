"""Fake servers that speak real provider protocols, for offline tests."""
