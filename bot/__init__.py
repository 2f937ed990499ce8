"""Frontline Coach: the platform-neutral conversation core."""
