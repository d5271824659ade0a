"""ASGI entry point for uvicorn workers: ``dailypapers.web.asgi:app``."""

import os

# One torch thread per web worker: with two workers on two cores, a query embedding took
# 83 ms (p50) with torch's default threads against 22 ms with one (bench/search_latency.py).
os.environ.setdefault("OMP_NUM_THREADS", "1")

from dailypapers.logs import configure_logging
from dailypapers.web.app import create_app

app = create_app()
# Each worker process configures its own logging (uvicorn starts workers as fresh processes).
configure_logging(level=app.state.settings.log_level, fmt=app.state.settings.log_format)
