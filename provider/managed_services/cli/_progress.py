"""The live progress display: the engine's numbered steps on stderr while a command waits.

The engine reports each step once ("[2/4] instances 0/1 created"). On a terminal the current
step is redrawn in place with a spinner and the time spent on it, and finished steps stay
above it; elsewhere (pipes, CI logs) every step is one plain line with the elapsed time.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import TextIO

_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_TICK = 0.125


class ProgressDisplay:
    """A callable for the engine's `progress=`; use as a context manager so the last line ends."""

    def __init__(self, stream: TextIO, *, live: bool | None = None) -> None:
        self._stream = stream
        self._live = stream.isatty() if live is None else live
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._step_started = self._started
        self._current: str | None = None
        self._frame = 0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> ProgressDisplay:
        if self._live:
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            if self._live and self._current is not None:
                mark = "✓" if kind is None else "✗"
                self._write(f"\r\033[K{mark} {self._current} ({self._elapsed(self._step_started)})\n")
            self._current = None

    def __call__(self, line: str) -> None:
        with self._lock:
            now = time.monotonic()
            if not self._live:
                self._write(f"[{now - self._started:6.1f}s] {line}\n")
                return
            if self._current is not None:
                self._write(f"\r\033[K✓ {self._current} ({self._elapsed(self._step_started)})\n")
            self._current, self._step_started = line, now
            self._draw()

    def _tick(self) -> None:
        while not self._stop.wait(_TICK):
            with self._lock:
                if self._current is not None:
                    self._frame = (self._frame + 1) % len(_FRAMES)
                    self._draw()

    def _draw(self) -> None:
        self._write(f"\r\033[K{_FRAMES[self._frame]} {self._current} ({self._elapsed(self._step_started)})")

    def _elapsed(self, since: float) -> str:
        return f"{time.monotonic() - since:.0f}s"

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()
