"""What arrives before the part that handles it exists, held for it in order, up to a limit."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Waiting(Generic[T]):
    """Items held in arrival order until `release`, `limit` at most: whoever floods a page that
    is still starting loses only what goes past the limit, never what came before."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: list[T] = []

    def __len__(self) -> int:
        return len(self._items)

    def hold(self, item: T) -> bool:
        """Hold `item`; False (and it is dropped) when `limit` items wait already."""
        if len(self._items) >= self.limit:
            return False
        self._items.append(item)
        return True

    def release(self) -> list[T]:
        """Everything held, oldest first; nothing waits after."""
        items, self._items = self._items, []
        return items
