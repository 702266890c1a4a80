"""A strict fake of Google Calendar API v3 and Google's OAuth endpoints (see :mod:`.server`)."""
