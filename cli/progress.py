"""A progress line on a terminal for long work — files, lines, rate and time left (from bytes read of the
files whose size is known) — and silence when scripted."""

from __future__ import annotations

import sys
import time

from footfall.edx.files import Source


class Meter:
    def __init__(self, sources: list[Source], quiet: bool, every_s: float = 0.5) -> None:
        self.sources, self.quiet, self.every_s = sources, quiet, every_s
        self.sizes = [s.path.stat().st_size if s.path else 0 for s in sources]
        self.started, self.shown = time.monotonic(), 0.0
        self.lines_before, self.lines, self.current = 0, 0, -1

    def update(self, source: Source, lines: int) -> None:
        index = next(i for i, s in enumerate(self.sources) if s is source)
        if index != self.current:
            self.lines_before, self.current = self.lines, index
        self.lines = self.lines_before + lines
        now = time.monotonic()
        if self.quiet or now - self.shown < self.every_s:
            return
        self.shown = now
        elapsed = now - self.started
        done = sum(self.sizes[:index]) + source.size
        total = sum(self.sizes)
        eta = f", {elapsed * (total - done) / done:,.0f} s left" if total and done else ""
        print(f"\r\x1b[Kfile {index + 1}/{len(self.sources)} {source.name[-40:]}: {self.lines:,} lines, "
              f"{self.lines / max(elapsed, 1e-9):,.0f} lines/s{eta}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if not self.quiet and self.shown:
            print(file=sys.stderr)
