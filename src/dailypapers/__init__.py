"""dailypapers: a self-hostable hub for research papers (daily arXiv lists, search, digests)."""

__version__ = "0.1.0"
