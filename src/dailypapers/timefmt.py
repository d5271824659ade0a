"""The one timestamp format of the JSON API: Hugging Face's (``2024-10-25T00:57:09.392Z``).

UTC, milliseconds, ``Z``: what ``huggingface_hub`` and clients generated from Hugging Face's
OpenAPI spec parse. Every timestamp the API writes (papers, list entries, comments) goes
through :func:`hf_time`.
"""

from __future__ import annotations

import datetime as dt


def hf_time(value: dt.datetime | None) -> str | None:
    """``value`` in UTC as ``YYYY-MM-DDTHH:MM:SS.mmmZ``; a naive value is taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is dt.UTC:  # what the database gives: written as it is, "+00:00" as "Z"
        return value.isoformat(timespec="milliseconds")[:-6] + "Z"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    utc = value.astimezone(dt.UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "Z"
