"""Which files an import names, and their lines, streamed: memory stays flat whatever a file's size.

A path is a file, a directory (its `*.log` and `*.log.gz` files, recursively, in name order), a glob
(`logs/*-edx-events-2014-*.log.gz`), or `-` for standard input (`gpg -d x.log.gz.gpg | gunzip |
footfall import-edx -`). Gzip is recognised by its magic bytes, not its name; several gzip members in one
file are read one after the other. A gzip stream cut short yields its last, incomplete line as truncated.
"""

from __future__ import annotations

import glob
import hashlib
import itertools
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
LOG_SUFFIXES = (".log", ".log.gz", ".gz")


class PathError(Exception):
    """A path names nothing readable; the message says which."""


@dataclass
class Source:
    name: str  # as the ledger and dead letters name it
    path: Path | None  # None: standard input
    size: int = 0  # bytes read (compressed, as on disk)
    sha256: hashlib._Hash = field(default_factory=hashlib.sha256)  # of the bytes read

    def open(self) -> BinaryIO:
        return sys.stdin.buffer if self.path is None else self.path.open("rb")


def expand(paths: list[str]) -> list[Source]:
    """The files the paths name, each once, in the order named (a directory's in name order)."""
    found: list[Source] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            found.append(Source(str(path), path))

    for text in paths:
        if text == "-":
            found.append(Source("-", None))
            continue
        matches = sorted(glob.glob(text, recursive=True)) if glob.has_magic(text) else [text]
        if not matches:
            raise PathError(f"{text}: no file matches")
        for match in matches:
            path = Path(match)
            if path.is_dir():
                for inner in sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(LOG_SUFFIXES)):
                    add(inner)
            elif path.is_file():
                try:
                    path.open("rb").close()
                except OSError as exc:
                    raise PathError(f"{text}: {exc.strerror}") from None
                add(path)
            else:
                raise PathError(f"{text}: no such file or directory")
    return found


def _chunks(source: Source) -> Iterator[bytes]:
    with source.open() as handle:
        while chunk := handle.read(CHUNK):
            source.size += len(chunk)
            source.sha256.update(chunk)
            yield chunk


def _inflated(chunks: Iterator[bytes]) -> Iterator[bytes | None]:
    """Gzip members one after another; None at the end if the last one was cut short (or is not gzip)."""
    inflate, fed = zlib.decompressobj(zlib.MAX_WBITS | 16), False
    try:
        for chunk in chunks:
            data = chunk
            while data:
                if out := inflate.decompress(data):
                    yield out
                fed = True
                if not inflate.eof:
                    break
                data = inflate.unused_data  # the next member, if any
                inflate, fed = zlib.decompressobj(zlib.MAX_WBITS | 16), False
    except zlib.error:
        fed = True
    if fed:  # the last member never reached its end: the file was cut short
        yield None


def lines(source: Source) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, line without its end, truncated) for each line of a file, in order."""
    chunks = _chunks(source)
    first = next(chunks, b"")
    everything = itertools.chain((first,), chunks)
    data: Iterator[bytes | None] = _inflated(everything) if first.startswith(GZIP_MAGIC) else everything
    pending, number, truncated = b"", 0, False
    for block in data:
        if block is None:
            truncated = True
            break
        pending += block
        *complete, pending = pending.split(b"\n")
        for line in complete:
            number += 1
            yield number, line.rstrip(b"\r"), False
    if pending:
        number += 1
        yield number, pending.rstrip(b"\r"), truncated
