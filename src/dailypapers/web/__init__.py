"""Server-rendered HTML pages (FastAPI + Jinja2) and the application factory."""
