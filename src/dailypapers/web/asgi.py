"""ASGI entry point for uvicorn workers: ``dailypapers.web.asgi:app``."""

from dailypapers.web.app import create_app

app = create_app()
