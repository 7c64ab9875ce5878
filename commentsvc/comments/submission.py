"""A submitted comment and the ways it can be refused, shared by every check."""

from __future__ import annotations

from dataclasses import dataclass


class CommentError(ValueError):
    """A comment that cannot be accepted; ``field`` names the form field at fault, if any."""

    status = 400
    code = "invalid_comment"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def headers(self) -> dict[str, str]:
        """The HTTP headers the refusal carries (a wait, say)."""
        return {}


class CommentsClosed(CommentError):
    """The article no longer takes comments."""

    status = 403
    code = "comments_closed"


@dataclass(frozen=True)
class NewComment:
    """A validated submission, ready to store."""

    name: str
    email: str
    website: str
    body: str
    parent_id: int | None
    ip: str
    user_agent: str
    # "Notify me of follow-up comments by email" (a confirmation mail comes first).
    notify: bool = False


class TooFast(CommentError):
    """The same network or email posted moments ago; ``retry_after``: seconds to wait."""

    status = 429
    code = "too_fast"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class Duplicate(CommentError):
    """The same text from the same email on the same article."""

    status = 409
    code = "duplicate_comment"
