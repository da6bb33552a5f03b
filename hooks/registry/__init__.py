"""Registry clients: credentials, auth, OCI distribution, Docker Hub, ghcr.io, and the scanner. Knows nothing of Flask or Metacontroller."""
