"""aim-model-source-hooks: Metacontroller hooks that keep AIMClusterModels in step with container registries."""
