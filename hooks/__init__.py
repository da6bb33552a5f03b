"""aim-model-source-hooks: Metacontroller hooks keeping AIMClusterModels in step with registries."""
