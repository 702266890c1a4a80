"""Calendar providers behind one interface (see :mod:`idealweek.providers.base`)."""
