"""Benchmarks (run with `make bench`); each module's main() prints JSON figures."""
