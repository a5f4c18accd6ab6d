"""Paging of long lists (students, unknown faces, the audit log): which page, and the links to the others."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import request

T = TypeVar("T")

PAGE_SIZE = 50


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its items, its number (from 1), the page count and the total of items."""

    items: list[T]
    number: int
    pages: int
    total: int
    size: int

    @property
    def first_index(self) -> int:
        """The 1-based position of the page's first item (0 for an empty list)."""
        return (self.number - 1) * self.size + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.items) - 1 if self.total else 0


def requested_page() -> int:
    """The ``page`` query argument (1 when missing or not a positive number)."""
    text = request.args.get("page", "1")
    return int(text) if text.isdigit() and 0 < len(text) < 7 and int(text) > 0 else 1


def page_of(items: Sequence[T], number: int | None = None, size: int = PAGE_SIZE) -> Page[T]:
    """The ``number``-th page (default: the request's) of ``items``; a number past the end gives the last."""
    pages = max(1, -(-len(items) // size))
    number = min(number or requested_page(), pages)
    start = (number - 1) * size
    return Page(list(items[start:start + size]), number, pages, len(items), size)


def page_from_count(total: int, size: int = PAGE_SIZE) -> tuple[int, int, int]:
    """For a list counted in the database: (page number, offset, page count) of the request's page."""
    pages = max(1, -(-total // size))
    number = min(requested_page(), pages)
    return number, (number - 1) * size, pages


def page_args(number: int) -> dict[str, Any]:
    """The request's query arguments with ``page`` set to ``number`` (a page link keeps the search)."""
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "page"}
    args["page"] = number
    return args
