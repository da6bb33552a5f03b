"""Registry clients: credentials, auth, OCI distribution, Docker Hub, ghcr.io, the scanner.

They know nothing of Flask, Metacontroller or our CRDs (checked by `lint-imports`). Other layers
use the modules in `__all__`: the scanner, what it is asked (targets, credentials) and its
settings; the others are its parts.
"""

__all__ = ["config", "credentials", "scanner", "targets"]
