"""Sources: read the outside world and yield plain ``RawPaper`` records.

Nothing here touches the database; ``dailypapers.ingest`` normalises and stores
what these yield.  Every record carries an opaque ``cursor``: calling the same
source again with ``resume=<cursor>`` starts right after that record.  Fatal
problems raise ``dailypapers.records.SourceError``; a single bad record inside a
good page or file becomes a ``RawPaper`` with ``error`` set.

- ``http.Fetcher``: polite HTTP client (request spacing, retries, ``Retry-After``).
- ``arxiv_api.fetch_api``: the arXiv API (Atom), by ids or categories and dates.
- ``oai.fetch_oai``: OAI-PMH ``ListRecords`` harvest in the ``arXiv`` format.
- ``rss.fetch_listing`` / ``rss.parse_listing``: the daily listing feeds (RSS or Atom).
- ``snapshot.read_snapshot``: the Kaggle metadata snapshot (JSON lines, plain or gzip).
- ``hf_daily.fetch_hf_daily`` / ``hf_daily.parse_hf_daily``: Hugging Face daily papers.
"""
