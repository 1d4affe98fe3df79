"""A work queue of enumeration chunks in a SQL database, so an exhaustive search can be resumed
after a crash and shared by many worker processes or machines.

The valid index range of a space is cut into chunks. A worker *claims* a chunk (an atomic
``UPDATE ... WHERE status = 'todo'``, safe under SQLite's and PostgreSQL's default isolation),
evaluates it, and stores its rows and counts together with ``status = 'done'`` in one
transaction: a finished chunk is never lost, and never evaluated twice. A chunk whose worker died
stays ``running`` until its lease expires (or ``reset_running`` on ``--resume``) and is then
claimed again. Rows are merged in chunk order, so the result does not depend on how many workers
ran. Any SQLAlchemy URL works: ``sqlite:///study.db`` (default in a study's out folder) or
``postgresql://user@host/db`` for workers on several machines.

Rows are stored without pickle: numeric columns as ``.npy`` bytes, text columns as JSON.
"""
from __future__ import annotations

import io
import json
import os
import socket
import time
import uuid
from typing import Any

import numpy as np

from ..core.errors import StorageError
from .table import Table

LEASE_SECONDS = 1800.0


def _tables(metadata):
    import sqlalchemy as sa

    studies = sa.Table(
        "mlsysim_studies", metadata,
        sa.Column("study_key", sa.String(200), primary_key=True),
        sa.Column("n_chunks", sa.Integer, nullable=False),
        sa.Column("meta", sa.Text, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
    )
    chunks = sa.Table(
        "mlsysim_chunks", metadata,
        sa.Column("study_key", sa.String(200), primary_key=True),
        sa.Column("chunk", sa.Integer, primary_key=True),
        sa.Column("start", sa.BigInteger, nullable=False),
        sa.Column("stop", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(10), nullable=False, index=True),
        sa.Column("worker", sa.String(200)),
        sa.Column("claimed_at", sa.Float),
        sa.Column("finished_at", sa.Float),
        sa.Column("payload", sa.LargeBinary),
    )
    return studies, chunks


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def normalize_url(storage: str) -> str:
    """A path ending in .db / .sqlite becomes a SQLite URL; URLs pass through."""
    s = str(storage)
    if "://" in s:
        return s
    return f"sqlite:///{os.path.abspath(s)}"


class ChunkStore:
    """Chunks of exhaustive searches in one database (many studies, keyed by ``study_key``)."""

    def __init__(self, storage: str):
        import sqlalchemy as sa

        self.url = normalize_url(storage)
        try:
            kwargs: dict[str, Any] = {"future": True}
            if self.url.startswith("sqlite"):
                kwargs["connect_args"] = {"timeout": 60}
            self.engine = sa.create_engine(self.url, **kwargs)
            self.metadata = sa.MetaData()
            self.studies, self.chunks = _tables(self.metadata)
            self.metadata.create_all(self.engine)
        except Exception as exc:  # noqa: BLE001 - any driver/connect failure is a storage problem
            raise StorageError(f"cannot open study storage {self.url!r}: {type(exc).__name__}: {str(exc).splitlines()[0]}",
                               hint="check the URL, that the server is running and reachable, and the credentials; "
                                    "for a file, that its folder exists and is writable") from None

    # -- setup ----------------------------------------------------------------------------
    def open_study(self, study_key: str, bounds: list[tuple[int, int]], meta: dict) -> bool:
        """Create the chunk rows of a study unless they exist; returns True when created."""
        import sqlalchemy as sa

        with self.engine.begin() as conn:
            row = conn.execute(sa.select(self.studies.c.n_chunks).where(self.studies.c.study_key == study_key)).first()
            if row is not None:
                if row[0] != len(bounds):
                    raise StorageError(f"study {study_key!r} exists in {self.url} with {row[0]} chunks, not {len(bounds)}",
                                       hint="the space or chunk size changed: use a new out folder or storage")
                return False
            try:
                conn.execute(self.studies.insert().values(study_key=study_key, n_chunks=len(bounds),
                                                          meta=json.dumps(meta, sort_keys=True, default=str),
                                                          created=time.time()))
                conn.execute(self.chunks.insert(), [
                    {"study_key": study_key, "chunk": i, "start": lo, "stop": hi, "status": "todo"}
                    for i, (lo, hi) in enumerate(bounds)])
            except sa.exc.IntegrityError:  # another worker created it first: fine
                return False
        return True

    def reset_running(self, study_key: str) -> int:
        """Return chunks left ``running`` by a dead process to the queue (``--resume``)."""
        with self.engine.begin() as conn:
            res = conn.execute(self.chunks.update()
                               .where((self.chunks.c.study_key == study_key) & (self.chunks.c.status == "running"))
                               .values(status="todo", worker=None, claimed_at=None))
            return res.rowcount

    # -- work -----------------------------------------------------------------------------
    def claim(self, study_key: str, worker: str, lease_s: float = LEASE_SECONDS):
        """Atomically take the next chunk to do (or one whose lease expired): (chunk, start, stop) or None."""
        import sqlalchemy as sa

        c = self.chunks.c
        for _ in range(50):
            now = time.time()
            with self.engine.begin() as conn:
                cand = conn.execute(
                    sa.select(c.chunk, c.start, c.stop, c.status)
                    .where((c.study_key == study_key) & ((c.status == "todo") |
                                                         ((c.status == "running") & (c.claimed_at < now - lease_s))))
                    .order_by(c.chunk).limit(1)).first()
                if cand is None:
                    return None
                res = conn.execute(
                    self.chunks.update()
                    .where((c.study_key == study_key) & (c.chunk == cand.chunk) & (c.status == cand.status) &
                           ((c.status == "todo") | (c.claimed_at < now - lease_s)))
                    .values(status="running", worker=worker, claimed_at=now))
                if res.rowcount == 1:
                    return int(cand.chunk), int(cand.start), int(cand.stop)
        return None

    def complete(self, study_key: str, chunk: int, worker: str, payload: bytes) -> bool:
        """Store a chunk's rows and mark it done -- only if this worker still holds it."""
        c = self.chunks.c
        with self.engine.begin() as conn:
            res = conn.execute(self.chunks.update()
                               .where((c.study_key == study_key) & (c.chunk == chunk) &
                                      (c.status == "running") & (c.worker == worker))
                               .values(status="done", payload=payload, finished_at=time.time()))
            return res.rowcount == 1

    # -- reading --------------------------------------------------------------------------
    def progress(self, study_key: str) -> dict[str, int]:
        import sqlalchemy as sa

        c = self.chunks.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(c.status, sa.func.count()).where(c.study_key == study_key)
                                .group_by(c.status)).all()
        out = {"todo": 0, "running": 0, "done": 0}
        out.update({status: int(n) for status, n in rows})
        return out

    def done_parts(self, study_key: str) -> list[tuple[int, int, int, bytes]]:
        import sqlalchemy as sa

        c = self.chunks.c
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(
                sa.select(c.chunk, c.start, c.stop, c.payload)
                .where((c.study_key == study_key) & (c.status == "done")).order_by(c.chunk)).all()]

    def list_studies(self) -> list[dict]:
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(self.studies)).all()
        out = []
        for r in rows:
            p = self.progress(r.study_key)
            out.append({"study_key": r.study_key, "n_chunks": r.n_chunks, "meta": json.loads(r.meta),
                        "created": r.created, **p})
        return out

    def meta(self, study_key: str) -> dict | None:
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            row = conn.execute(sa.select(self.studies.c.meta).where(self.studies.c.study_key == study_key)).first()
        return None if row is None else json.loads(row[0])

    def dispose(self) -> None:
        self.engine.dispose()


# -- serialization of a chunk's rows (no pickle) ------------------------------------------------
def pack(table: Table | None, counts: dict) -> bytes:
    """Serialize a Table and its counts: numeric columns as .npy, text as JSON."""
    buf = io.BytesIO()
    arrays, text = {}, {}
    if table is not None:
        for name in table.names:
            col = np.asarray(table[name])
            if col.dtype.kind in "biuf":
                arrays[name] = col
            else:
                text[name] = [None if v is None else str(v) for v in col.tolist()]
    header = json.dumps({"counts": counts, "text": text, "order": table.names if table is not None else None,
                         "has_table": table is not None}).encode()
    np.savez(buf, __header__=np.frombuffer(header, dtype=np.uint8), **arrays)
    return buf.getvalue()


def unpack(payload: bytes) -> tuple[Table | None, dict]:
    with np.load(io.BytesIO(payload), allow_pickle=False) as z:
        header = json.loads(bytes(z["__header__"]).decode())
        if not header["has_table"]:
            return None, header["counts"]
        cols = {}
        for name in header["order"]:
            if name in header["text"]:
                cols[name] = np.array(header["text"][name], dtype=object)
            else:
                cols[name] = z[name]
    return Table(cols), header["counts"]
