"""The API's JSON bodies, written by orjson straight from the route's plain data.

A route keeps its ``response_model`` (OpenAPI documents it, and the schema tests check the
answers against it) but returns ``OrjsonResponse(data)``: FastAPI passes a returned response
through as it is, so the data is neither validated again (a thread-pool hop for a sync
route) nor re-encoded. The shapes in ``api/shapes.py`` build exactly the models' fields;
``tests/core/test_api_json.py`` checks that every such body is what the model would write.
Measured on a 50-item ``/api/daily_papers`` body (172 kB): orjson 0.03 ms, Pydantic's
validate-and-dump 0.55 ms, ``jsonable_encoder`` with ``json.dumps`` 7.9 ms.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response


class OrjsonResponse(Response):
    """``application/json`` serialised by orjson (UTF-8, no spaces, as Pydantic writes)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """The JSON bytes of ``content``."""
        return orjson.dumps(content)
