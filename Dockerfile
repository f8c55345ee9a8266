# The aiproxy gateway: the core and every plugin that needs no torch, serving on Redis.
#   docker compose up --build      (compose.yaml: this image and Redis; set AIPROXY_SERVER__ADMIN_TOKEN first)
# The AI plugins (moderation, rag, cache) need torch, which would make the image gigabytes: build
# an image FROM this one that runs `aiproxy install --bundle ai --source index` (as USER root) to add them.
# No secret is baked in: the admin token and any Redis password come from the environment.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/aiproxy
COPY pyproject.toml README.md ./
COPY aiproxy_core ./aiproxy_core
COPY aiproxy_plugins/analytics ./aiproxy_plugins/analytics
COPY aiproxy_plugins/billing ./aiproxy_plugins/billing
COPY aiproxy_plugins/content_validator ./aiproxy_plugins/content_validator
COPY aiproxy_plugins/rate_limiter ./aiproxy_plugins/rate_limiter
COPY aiproxy_plugins/security_validator ./aiproxy_plugins/security_validator
RUN pip install . \
        ./aiproxy_plugins/analytics \
        ./aiproxy_plugins/billing \
        ./aiproxy_plugins/content_validator \
        ./aiproxy_plugins/rate_limiter \
        ./aiproxy_plugins/security_validator \
    && useradd --system --uid 10001 --create-home --home-dir /var/lib/aiproxy aiproxy
COPY docker/config.yaml /etc/aiproxy/config.yaml

# Not root; the working directory is where a SQLite file would go if the redis section were removed.
USER aiproxy
WORKDIR /var/lib/aiproxy
EXPOSE 8080 8081
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
CMD ["aiproxy", "serve", "--config", "/etc/aiproxy/config.yaml"]
