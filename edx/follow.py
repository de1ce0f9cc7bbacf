"""Following a live `tracking.log` as `tail -F` does, with a checkpoint so that a restart resumes exactly.

The follower reads complete lines as they are written and stores them in batches (at most `BATCH` lines, or
whatever arrived within `poll_s`), then records where it got to: the file's device and inode, the offset
after the last stored line, and a digest of the file's first bytes. The checkpoint is written (atomically)
only after the store has the lines, so a crash re-reads at most one batch, which adds nothing: events are
keyed by their content.

Rotation:
- **by rename** (`tracking.log` → `tracking.log.1`, a new `tracking.log`): the follower notices the path
  now names another inode, reads the old file to its end through the handle it holds, then starts the new
  one from its first byte. If the rotation happened while it was not running, it finds the old file by
  its inode among its siblings and finishes it first.
- **by copy and truncate**: the file shrinks under the follower's offset (or its first bytes change); it
  starts again from the first byte. Lines written between the follower's last read and the copy are only
  in the copy — as with `tail -F`; rotate by rename where no line may be lost.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

HEAD = 1024  # bytes whose digest tells a file apart from its successor at the same inode
BATCH = 1000


@dataclass
class Checkpoint:
    dev: int
    ino: int
    offset: int
    head: str  # SHA-256 of the file's first min(HEAD, offset) bytes
    line: int = 0  # lines before the offset: line numbers stay the file's own across restarts

    @classmethod
    def read(cls, path: Path) -> Checkpoint | None:
        try:
            return cls(**orjson.loads(path.read_bytes()))
        except (FileNotFoundError, orjson.JSONDecodeError, TypeError):
            return None

    def write(self, path: Path) -> None:
        partial = path.with_name(path.name + ".tmp")
        partial.write_bytes(orjson.dumps(self.__dict__))
        os.replace(partial, path)


def _head(handle: BinaryIO, upto: int) -> str:
    position = handle.tell()
    handle.seek(0)
    digest = hashlib.sha256(handle.read(min(HEAD, upto))).hexdigest()
    handle.seek(position)
    return digest


class Follower:
    """Follows one path; `store(lines, file)` must have stored the (line number, bytes) pairs when it returns."""

    def __init__(self, path: Path, state: Path, store: Callable[[list[tuple[int, bytes]], str], None],
                 poll_s: float = 0.5) -> None:
        self.path, self.state, self.store, self.poll_s = path, state, store, poll_s
        self.handle: BinaryIO | None = None
        self.stat: os.stat_result | None = None
        self.pending = b""
        self.line = 0  # lines read of the current file (a restart counts again from its offset)

    def open(self, path: Path, offset: int, line: int = 0) -> None:
        if self.handle:
            self.handle.close()
        self.handle = path.open("rb")
        self.stat = os.fstat(self.handle.fileno())
        self.handle.seek(offset)
        self.pending, self.line = b"", line

    def resume(self) -> None:
        """Where the checkpoint says, finishing a file rotated away while nobody followed it."""
        point = Checkpoint.read(self.state)
        if point is None:
            self.open(self.path, 0)
            return
        current = os.stat(self.path)
        if (current.st_dev, current.st_ino) != (point.dev, point.ino):
            rotated = next((p for p in self.path.parent.iterdir() if p != self.path and p.is_file()
                            and (p.stat().st_dev, p.stat().st_ino) == (point.dev, point.ino)), None)
            if rotated is not None:
                self.open(rotated, point.offset, point.line)
                self.read(rotated.name)  # to its end
            self.open(self.path, 0)
            return
        self.open(self.path, point.offset, point.line)
        assert self.handle is not None
        if current.st_size < point.offset or _head(self.handle, point.offset) != point.head:
            self.open(self.path, 0)  # truncated (or replaced) since

    def read(self, name: str) -> bool:
        """Store what complete lines are there; whether any were."""
        assert self.handle is not None
        got = False
        while chunk := self.handle.read(1 << 20):
            self.pending += chunk
            *complete, self.pending = self.pending.split(b"\n")
            numbered = []
            for line in complete:
                self.line += 1
                numbered.append((self.line, line.rstrip(b"\r")))
            for start in range(0, len(numbered), BATCH):
                self.store(numbered[start:start + BATCH], name)
            got = got or bool(numbered)
            self.checkpoint()
        return got

    def checkpoint(self) -> None:
        assert self.handle is not None and self.stat is not None
        offset = self.handle.tell() - len(self.pending)
        Checkpoint(self.stat.st_dev, self.stat.st_ino, offset, _head(self.handle, offset), self.line).write(self.state)

    def rotated(self) -> bool:
        """Whether the path names another file now, or ours was truncated under us."""
        assert self.handle is not None and self.stat is not None
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            return False  # between the rename and the new file: keep reading the old one
        if (current.st_dev, current.st_ino) != (self.stat.st_dev, self.stat.st_ino):
            return True
        return current.st_size < self.handle.tell() - len(self.pending)

    def run(self, stop: Callable[[], bool]) -> None:
        self.resume()
        while not stop():
            self.read(self.path.name)
            if self.rotated():
                same = os.stat(self.path).st_ino == self.stat.st_ino  # type: ignore[union-attr]
                if not same:
                    self.read(self.path.name)  # what the old file got before it was renamed
                self.open(self.path, 0)
                self.checkpoint()
                continue
            time.sleep(self.poll_s)

    def close(self) -> None:
        if self.handle:
            self.handle.close()


def default_state(path: Path) -> Path:
    """The checkpoint of a followed file, beside it (`--state` puts it elsewhere)."""
    return path.with_name(path.name + ".footfall-follow")

