"""Personal feeds held between polls: the built feed of a token, kept while the site
revision and the owner's preferences are the same.

Personal feeds are not in the response cache (a revoked link must stop at once), so each poll
looks the token up; building the feed (a week's lists matched against the preferences) is
the expensive part, and this keeps it to once per site revision. Per process, at most
``MAX_HELD`` feeds, the least recently used dropped first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from dailypapers.feeds.xml import Feed

MAX_HELD = 1024


class HeldFeeds:
    """A small LRU of built feeds by key (thread-safe: handlers run in the thread pool)."""

    def __init__(self, limit: int = MAX_HELD) -> None:
        self.limit = limit
        self._items: OrderedDict[Hashable, Feed] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], Feed]) -> Feed:
        """The feed held for ``key``, or ``make()``'s, then held."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        feed = make()
        with self._lock:
            self._items[key] = feed
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
        return feed


HELD = HeldFeeds()
