"""Frontline Coach tests."""
