"""Fake services on loopback for the provider and end-to-end tests."""
