"""Storage: the only code that runs SQL (SQLite by default, PostgreSQL through the same schema)."""
