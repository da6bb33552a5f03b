"""The AIMClusterModelSource controller: spec, filters, versions, plan, naming, status, controller."""
