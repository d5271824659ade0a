"""ASGI entry point for uvicorn workers: ``dailypapers.web.asgi:app``."""

import os

# One torch thread per web worker: with two workers on two cores, a query embedding took
# 83 ms (p50) with torch's default threads against 22 ms with one (bench/search_latency.py).
os.environ.setdefault("OMP_NUM_THREADS", "1")

from dailypapers.web.app import create_app

app = create_app()
