"""The AIMClusterConfig controller and config resolution."""

__all__ = ["controller"]
