"""The one error type community actions raise: a message for people and an HTTP status."""

from __future__ import annotations


class ActionError(Exception):
    """A refused action. ``status`` is the HTTP code the API answers with (403, 404, 409, 422);
    ``link`` optionally points at a page that explains (the day a paper is already on);
    ``retry_after`` (seconds) is sent as ``Retry-After`` when trying again later can work."""

    def __init__(
        self,
        message: str,
        status: int = 422,
        link: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.link = link
        self.retry_after = retry_after
