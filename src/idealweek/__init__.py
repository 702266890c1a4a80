"""idealweek: defend your ideal week, and book back what meetings take."""

__version__ = "0.1.0"
