"""The AIMClusterModelSource controller and its pure core.

spec, filters, versions, naming, plan, status and schedule decide; controller joins them.
"""
