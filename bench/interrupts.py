"""SIGINT and SIGTERM as an exception that a long loop can catch at a safe point (`bench train` saves its checkpoint).

A signal raises `Interrupted` in the main thread at once, unless it arrives inside `Interrupts.deferred()` (an
optimiser update, a checkpoint being written): there it is held and raised when the block ends, so the state the
caller saves afterwards is always that of a finished step.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

__all__ = ['Interrupted', 'Interrupts']

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; `signum` says which, `exit_code` is the shell's convention (128 + signum)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class Interrupts:
    """Context manager installing the handlers (main thread only; elsewhere it does nothing) and restoring the old.

    A signal the process ignores (SIG_IGN, e.g. SIGINT under `nohup` or `cmd &` in a script) stays ignored.
    """

    def __init__(self) -> None:
        self._depth = 0
        self._pending: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                old = signal.getsignal(signum)
                if old is not signal.SIG_IGN:
                    self._previous[signum] = old
                    signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, old in self._previous.items():
            signal.signal(signum, old)
        self._previous.clear()

    def _handle(self, signum: int, frame) -> None:
        if self._depth:
            self._pending = self._pending or signum
            return
        raise Interrupted(signum)

    @contextmanager
    def deferred(self):
        """Holds a signal that arrives inside the block and raises it when the (outermost) block ends."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if not self._depth and self._pending is not None:
            signum, self._pending = self._pending, None
            raise Interrupted(signum)
