"""The AIMClusterModelSource controller and its pure core.

spec, filters, versions, naming, plan, status and schedule decide; controller joins them. The
modules other layers use are listed in `__all__`; versions and schedule serve the others.
"""

__all__ = ["controller", "filters", "naming", "plan", "spec", "status"]
