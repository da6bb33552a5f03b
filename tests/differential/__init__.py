"""Pins and the node script for the differential tests of npm semver (no Python tests here)."""
