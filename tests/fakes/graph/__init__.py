"""A fake Microsoft Graph (calendar subset) on loopback (see :mod:`.server`)."""
