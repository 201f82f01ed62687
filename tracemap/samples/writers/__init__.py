"""Writers: each renders the simulation's records the way one real system exports them.

``Sink`` is where they write: it opens append-only files once (JSON lines grow record by record,
so memory stays flat at any scale), writes one-document files whole, and counts files, records
and bytes per format for ``GenerateResult``.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections import Counter
from pathlib import Path
from typing import IO


class Sink:
    """The output directory: files written, records and bytes counted per format."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: Counter[str] = Counter()
        self.records: Counter[str] = Counter()
        self.bytes: Counter[str] = Counter()
        self._streams: dict[Path, IO[bytes]] = {}

    def append(self, fmt: str, rel: str, line: bytes, records: int = 1) -> None:
        """Append one line to a JSON-lines file (opened on first use)."""
        path = self.root / rel
        stream = self._streams.get(path)
        if stream is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            stream = self._streams[path] = open(path, "wb")  # noqa: SIM115 - closed in close()
            self.files[fmt] += 1
        stream.write(line + b"\n")
        self.records[fmt] += records
        self.bytes[fmt] += len(line) + 1

    def write(self, fmt: str, rel: str, data: bytes, records: int = 1) -> None:
        """Write a whole one-document file."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.files[fmt] += 1
        self.records[fmt] += records
        self.bytes[fmt] += len(data)

    def close(self) -> None:
        for stream in self._streams.values():
            stream.close()
        self._streams.clear()


def b64(data: bytes | str) -> str:
    """Standard base64 text (what protobuf JSON writes for ``bytes``)."""
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def derived_uuid(*parts: str) -> str:
    """A UUIDv4-shaped id derived from ``parts``: ids a writer needs without touching the RNG."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()[:16]
    return str(uuid.UUID(bytes=digest, version=4))


def derived_hex(nchars: int, *parts: str) -> str:
    """Hex digits derived from ``parts`` (sticky queue suffixes, ETags)."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:nchars]
