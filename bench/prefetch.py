"""Loading the next item in a background thread while the current one is processed.

Image decoding (OpenCV) and file reading release the GIL, so one thread decoding the next triple overlaps with
scoring the current one.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

__all__ = ['prefetched', 'Loader']

T = TypeVar('T')
R = TypeVar('R')


def prefetched(items: Iterable[T], load: Callable[[T], R], ahead: int = 1) -> Iterator[tuple[T, R | Exception]]:
    """Yields `(item, load(item))` in order, or `(item, exception)` when loading failed, with up to `ahead` items
    loading in a background thread while the caller works on the current one.

    >>> [(i, r) for i, r in prefetched([1, 2, 0], lambda x: 6 // x)][:2]
    [(1, 6), (2, 3)]
    >>> isinstance(list(prefetched([0], lambda x: 1 // x))[0][1], ZeroDivisionError)
    True

    `ahead=0` loads each item in the calling thread, when asked for:

    >>> [r for _, r in prefetched([1, 2], lambda x: 6 // x, ahead=0)]
    [6, 3]
    """
    if ahead <= 0:
        yield from _in_this_thread(items, load)
        return
    source = iter(items)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix='prefetch') as pool:
        queue: deque[tuple[T, Future]] = deque()

        def submit() -> None:
            for item in source:
                queue.append((item, pool.submit(load, item)))
                return

        for _ in range(max(1, ahead)):
            submit()
        while queue:
            item, future = queue.popleft()
            submit()
            try:
                result = future.result()
            except Exception as err:  # the caller decides what a failed load means (an error row)
                yield item, err
            else:
                yield item, result


def _in_this_thread(items: Iterable[T], load: Callable[[T], R]) -> Iterator[tuple[T, R | Exception]]:
    for item in items:
        try:
            result = load(item)
        except Exception as err:
            yield item, err
        else:
            yield item, result


class Loader:
    """Loads one item ahead on request: `start(item)` begins loading in the background, `get(item)` returns the
    result (loading in the calling thread if it was not started). For work that must not overlap with a timed
    section: start the next load only after the section ends."""

    def __init__(self, load: Callable) -> None:
        self._load = load
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix='prefetch')
        self._pending: dict[object, Future] = {}

    def start(self, key, *args) -> None:
        if key not in self._pending:
            self._pending[key] = self._pool.submit(self._load, *args)

    def get(self, key, *args):
        future = self._pending.pop(key, None)
        return future.result() if future is not None else self._load(*args)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()

    def __enter__(self) -> 'Loader':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
