"""Query functions shared by the leaves (web pages, JSON API, CLI): one query, many renderings."""
