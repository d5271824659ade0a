"""Ranking: query parsing, keyword/semantic/hybrid scoring and fusion (pure functions)."""
