"""Test-only servers: a real distribution registry, a token server, a fault proxy, API look-alikes."""
