"""The namespaced half: what an AIMModelSource reads, and from where (docs/decisions.md §8)."""
