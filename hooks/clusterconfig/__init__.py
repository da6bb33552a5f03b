"""The AIMClusterConfig controller and config resolution."""
