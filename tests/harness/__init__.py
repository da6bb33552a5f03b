"""Test-only servers: a real registry, a token server, a fault proxy, API look-alikes."""
