"""Benchmarks of the hook service against the real servers of the test harness.

Each module is one benchmark, run from the project root as `.venv/bin/python -m bench.<name>`;
it prints a table whose ratios come from the same run. bench/README.md lists them with their
last results. Nothing here asserts a time: the numbers are for people to read.
"""
