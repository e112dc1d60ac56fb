"""Errors the storage layer raises; their messages are fit to show to a person."""

from __future__ import annotations


class StorageError(Exception):
    """Base class for storage errors."""


class ConflictError(StorageError):
    """An update was based on a version that someone else has since changed."""

    def __init__(self, entity: str = "plan", message: str | None = None) -> None:
        self.entity = entity
        super().__init__(
            message
            or f"This {entity} was changed by someone else a moment ago; "
            "reload to see their change."
        )


class NotFoundError(StorageError, LookupError):
    """No such row (or not one the caller may see)."""

    def __init__(self, entity: str, key: object) -> None:
        self.entity = entity
        self.key = key
        super().__init__(f"No {entity} {key!r}.")
