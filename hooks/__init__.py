"""aim-model-source-hooks: Metacontroller hooks keeping AIMClusterModels in step with registries.

Outside the package, the service is `hooks.app:create_app()` under gunicorn with
`hooks.gunicorn_config`, and the CLI is `python -m hooks` (serve, replay, preview).
"""

__all__ = ["app", "gunicorn_config"]
