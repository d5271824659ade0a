"""Ingest: normalise raw records and upsert them idempotently, with a report and a checkpoint."""
