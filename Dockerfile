# The hook server image: gunicorn serving hooks.app:create_app() on port 8080, as a non-root user.
# Pin the base image by digest (python:3.11-slim@sha256:...) for reproducible release builds.
FROM python:3.11-slim

# No .pyc files (the root filesystem is read-only at run time) and unbuffered logs.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# gunicorn puts its working directory on sys.path, which makes the `hooks` package importable.
WORKDIR /app

# Dependencies first, so that a code change reuses the cached dependency layer.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY hooks/ ./hooks/

# A fixed numeric user: Kubernetes can verify runAsNonRoot only for a numeric USER, and the
# Deployment's runAsUser is the same 10001.
RUN groupadd --system --gid 10001 hooks \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin hooks
USER 10001:10001

EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

ENTRYPOINT ["gunicorn", "--config", "python:hooks.gunicorn_config", "--bind", "0.0.0.0:8080", "hooks.app:create_app()"]
