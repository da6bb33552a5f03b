"""Registry clients: credentials, auth, OCI distribution, Docker Hub, ghcr.io, the scanner.

They know nothing of Flask, Metacontroller or our CRDs.
"""
