"""Fakes of the far side of each platform, served on loopback for the adapter tests."""
