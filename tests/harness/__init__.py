"""Test-only servers and helpers: a real distribution registry, a token server, a fault proxy, and API look-alikes."""
