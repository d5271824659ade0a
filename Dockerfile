# dailypapers container image: one image, two roles (web, jobs), all state in /data.
#
#   docker build -t dailypapers .
#   docker run -p 8000:8000 -v dailypapers:/data dailypapers          # web, SQLite in /data
#   docker compose up -d                                              # PostgreSQL + web + jobs
#   docker build --build-arg EXTRAS=openvino -t dailypapers .         # + the OpenVINO engine
#
# See docs/operations.md. Nothing secret is baked in: the secret key is generated into /data
# on first start (or comes from DAILYPAPERS_SECRET_KEY at run time).

# --- build: install the package and its dependencies into a virtual environment -----------
FROM python:3.11-slim AS build
# Optional extras, e.g. openvino (DAILYPAPERS_EMBEDDING_ENGINE=openvino, docs/search.md).
ARG EXTRAS=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/venv/bin/pip install ".${EXTRAS:+[$EXTRAS]}" \
 && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} + \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib

# --- run: the virtual environment, the deploy scripts and an unprivileged user ------------
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DAILYPAPERS_DATA_DIR=/data \
    DAILYPAPERS_ENVIRONMENT=production \
    DAILYPAPERS_FORWARDED_ALLOW_IPS=127.0.0.1
RUN groupadd --system --gid 10001 dailypapers \
 && useradd --system --uid 10001 --gid dailypapers --home-dir /data --shell /usr/sbin/nologin dailypapers \
 && mkdir -p /data \
 && chown dailypapers:dailypapers /data
COPY --from=build /opt/venv /opt/venv
COPY deploy/entrypoint.sh deploy/backup.sh deploy/restore.sh /usr/local/bin/
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# Liveness only: /readyz waits for the index and the model (use it for load balancers).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/livez' % os.environ.get('DAILYPAPERS_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["entrypoint.sh"]
CMD ["web"]
