"""A work queue of enumeration chunks in a SQL database, so an exhaustive search can be resumed
after a crash and shared by many worker processes or machines.

The raw index range of a space is cut into chunks. A worker *claims* a chunk (an atomic
``UPDATE ... WHERE status = 'todo'``), evaluates it, and stores its rows and counts together with
``status = 'done'`` in one transaction: a finished chunk is never lost, and never stored twice
(``complete`` succeeds only for the worker that still holds the chunk). A chunk whose worker died
stays ``running`` until its lease expires (or ``reset_running`` on ``--resume``) and is then
claimed again. Rows are merged in chunk order, so the result does not depend on how many workers
ran. Any SQLAlchemy URL works: ``sqlite:///study.db`` (default in a study's out folder) or
``postgresql://user@host/db`` for workers on several machines.

Rows are stored without pickle: numeric columns as ``.npy`` bytes, text columns as JSON. Each done
chunk also carries a small JSON ``info`` (its counts and its front's objective values) that
progress displays read without unpacking the rows, and ``attempts`` counts its claims (1 when no
worker died holding it).

SQLite: WAL journal and ``BEGIN IMMEDIATE`` transactions, so concurrent processes on one file
queue for the write lock (60 s timeout) instead of failing while upgrading a read lock;
PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED``, so many workers claim different chunks
without waiting for each other.
"""
from __future__ import annotations

import json
import os
import socket
import time
import uuid

import numpy as np

from ..core.errors import StorageError
from .table import Table
from .storage_url import redact, sql_storage

LEASE_SECONDS = 1800.0
#: A chunk's front is copied into its ``info`` (for progress displays) up to this many points.
INFO_FRONT_MAX = 500


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
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("info", sa.Text),
        sa.Column("payload", sa.LargeBinary),
    )
    return studies, chunks


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def make_engine(url: str, *, immediate: bool = True):
    """A SQLAlchemy engine. SQLite: WAL journal, a 60 s lock timeout and, for writers
    (``immediate``), ``BEGIN IMMEDIATE`` (a transaction takes the write lock up front, so two
    processes never fail upgrading a read lock; see SQLAlchemy's SQLite dialect notes on
    transactional DDL); readers use deferred transactions, which WAL never blocks. Others:
    ``pool_pre_ping``."""
    import sqlalchemy as sa

    spec = sql_storage(url, why="a chunk store")
    if not spec.is_sqlite:
        return sa.create_engine(url, pool_pre_ping=True)
    path = spec.sqlite_path
    if path:
        folder = os.path.dirname(path)
        if folder and not os.path.isdir(folder):
            raise StorageError(f"cannot open study storage {url!r}: folder {folder!r} does not exist",
                               hint="create the folder, or give another path or URL")
    engine = sa.create_engine(url, connect_args={"timeout": 60})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        if immediate:
            dbapi_conn.isolation_level = None  # BEGIN is issued below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    if immediate:
        @sa.event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def retry_locked(fn, *args, attempts: int = 12, **kwargs):
    """``fn(*args, **kwargs)``, retried with back-off while SQLite reports the file locked
    (possible when another library's deferred transactions hold it past the timeout)."""
    import sqlalchemy as sa

    for i in range(attempts):
        try:
            return fn(*args, **kwargs)
        except sa.exc.OperationalError as exc:
            if "locked" not in str(exc) or i == attempts - 1:
                raise
            time.sleep(min(0.05 * 2 ** i, 2.0))
    raise AssertionError("unreachable")  # pragma: no cover


def create_tables(metadata, engine, attempts: int = 5) -> None:
    """``metadata.create_all``, tolerant of another process creating the same tables at the same
    moment (PostgreSQL then reports a unique violation in its catalog; a retry finds them)."""
    import sqlalchemy as sa

    for i in range(attempts):
        try:
            return retry_locked(metadata.create_all, engine)
        except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
            if i == attempts - 1:
                raise
            time.sleep(0.1 * (i + 1))


def storage_error(url: str, exc: BaseException) -> StorageError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, ImportError):
        scheme = url.split("://", 1)[0]
        return StorageError(f"study storage {redact(url)!r}: no database driver for {scheme!r} is installed ({first})",
                            hint="for PostgreSQL: pip install psycopg2-binary (or mlsysim[distributed])")
    return StorageError(f"cannot open study storage {redact(url)!r}: {type(exc).__name__}: {redact(first)}",
                        hint="check the URL, that the server is running and reachable, and the credentials; "
                             "for a file, that its folder exists and is writable")


class ChunkStore:
    """Chunks of exhaustive searches in one database (many studies, keyed by ``study_key``)."""

    def __init__(self, storage: str):
        import sqlalchemy as sa

        self.url = sql_storage(storage, why="a chunk store").url
        try:
            self.engine = make_engine(self.url)
            self.reader = make_engine(self.url, immediate=False) if self.url.startswith("sqlite") else self.engine
            self.metadata = sa.MetaData()
            self.studies, self.chunks = _tables(self.metadata)
            create_tables(self.metadata, self.engine)
        except StorageError:
            raise
        except Exception as exc:  # noqa: BLE001 - any driver/connect failure is a storage problem
            raise storage_error(self.url, exc) from None

    # -- setup ----------------------------------------------------------------------------
    def open_study(self, study_key: str, bounds: list[tuple[int, int]], meta: dict) -> bool:
        """Create the chunk rows of a study unless they exist; returns True when created."""
        return retry_locked(self._open_study, study_key, bounds, meta)

    def _open_study(self, study_key, bounds, meta) -> bool:
        import sqlalchemy as sa

        n = self.n_chunks(study_key)
        if n is not None:
            self._check_chunks(study_key, n, len(bounds))
            return False
        try:
            with self.engine.begin() as conn:
                conn.execute(self.studies.insert().values(study_key=study_key, n_chunks=len(bounds),
                                                          meta=json.dumps(meta, sort_keys=True, default=str),
                                                          created=time.time()))
                conn.execute(self.chunks.insert(), [
                    {"study_key": study_key, "chunk": i, "start": int(lo), "stop": int(hi), "status": "todo",
                     "attempts": 0} for i, (lo, hi) in enumerate(bounds)])
        except sa.exc.IntegrityError:  # another worker created it first: fine
            self._check_chunks(study_key, self.n_chunks(study_key), len(bounds))
            return False
        return True

    def _check_chunks(self, study_key: str, have: int | None, want: int) -> None:
        if have is not None and have != want:
            raise StorageError(f"study {study_key!r} exists in {self.safe_url} with {have} chunks, not {want}",
                               hint="the chunk size changed since it was started: use the same chunk_size, or "
                                    "a new out folder or storage")

    def n_chunks(self, study_key: str) -> int | None:
        import sqlalchemy as sa

        with self.reader.connect() as conn:
            row = conn.execute(sa.select(self.studies.c.n_chunks).where(self.studies.c.study_key == study_key)).first()
        return None if row is None else int(row[0])

    def reset_running(self, study_key: str) -> int:
        """Return chunks left ``running`` by a dead process to the queue (``--resume``)."""
        def do():
            with self.engine.begin() as conn:
                res = conn.execute(self.chunks.update()
                                   .where((self.chunks.c.study_key == study_key) & (self.chunks.c.status == "running"))
                                   .values(status="todo", worker=None, claimed_at=None))
                return int(res.rowcount)
        return retry_locked(do)

    # -- work -----------------------------------------------------------------------------
    def claim(self, study_key: str, worker: str, lease_s: float = LEASE_SECONDS):
        """Atomically take the next chunk to do (or one whose lease expired): (chunk, start, stop) or None."""
        return retry_locked(self._claim, study_key, worker, lease_s)

    def _claim(self, study_key, worker, lease_s):
        import sqlalchemy as sa

        c = self.chunks.c
        while True:
            now = time.time()
            claimable = (c.study_key == study_key) & ((c.status == "todo") |
                                                      ((c.status == "running") & (c.claimed_at < now - lease_s)))
            with self.engine.begin() as conn:
                cand = conn.execute(sa.select(c.chunk, c.start, c.stop).where(claimable).order_by(c.chunk).limit(1)
                                    .with_for_update(skip_locked=True)).first()
                if cand is None:
                    return None
                res = conn.execute(self.chunks.update().where(claimable & (c.chunk == cand.chunk))
                                   .values(status="running", worker=worker, claimed_at=now, attempts=c.attempts + 1))
                if res.rowcount == 1:
                    return int(cand.chunk), int(cand.start), int(cand.stop)
            # another worker took it between the select and the update: try the next one

    def complete(self, study_key: str, chunk: int, worker: str, payload: bytes, info: dict | None = None) -> bool:
        """Store a chunk's rows and mark it done -- only if this worker still holds it."""
        c = self.chunks.c
        text = None if info is None else json.dumps(info, default=float)

        def do():
            with self.engine.begin() as conn:
                res = conn.execute(self.chunks.update()
                                   .where((c.study_key == study_key) & (c.chunk == chunk) &
                                          (c.status == "running") & (c.worker == worker))
                                   .values(status="done", payload=payload, info=text, finished_at=time.time()))
                return res.rowcount == 1
        return retry_locked(do)

    # -- reading --------------------------------------------------------------------------
    def progress(self, study_key: str) -> dict[str, int]:
        """Chunk counts by status, and ``raw_done``: raw indices covered by done chunks."""
        import sqlalchemy as sa

        c = self.chunks.c
        with self.reader.connect() as conn:
            rows = conn.execute(sa.select(c.status, sa.func.count(), sa.func.sum(c.stop - c.start))
                                .where(c.study_key == study_key).group_by(c.status)).all()
        out = {"todo": 0, "running": 0, "done": 0, "raw_done": 0}
        for status, n, raw in rows:
            out[status] = int(n)
            if status == "done":
                out["raw_done"] = int(raw or 0)
        return out

    def infos(self, study_key: str) -> dict[int, dict]:
        """``info`` of every done chunk, by chunk number."""
        import sqlalchemy as sa

        c = self.chunks.c
        with self.reader.connect() as conn:
            rows = conn.execute(sa.select(c.chunk, c.info)
                                .where((c.study_key == study_key) & (c.status == "done"))).all()
        return {int(k): (json.loads(v) if v else {}) for k, v in rows}

    def chunk_rows(self, study_key: str) -> list[dict]:
        """Bookkeeping of every chunk (no payload): chunk, start, stop, status, worker, attempts."""
        import sqlalchemy as sa

        c = self.chunks.c
        with self.reader.connect() as conn:
            rows = conn.execute(sa.select(c.chunk, c.start, c.stop, c.status, c.worker, c.attempts, c.claimed_at,
                                          c.finished_at).where(c.study_key == study_key).order_by(c.chunk)).all()
        return [dict(r._mapping) for r in rows]

    def done_parts(self, study_key: str) -> list[tuple[int, int, int, bytes]]:
        import sqlalchemy as sa

        c = self.chunks.c
        with self.reader.connect() as conn:
            return [tuple(r) for r in conn.execute(
                sa.select(c.chunk, c.start, c.stop, c.payload)
                .where((c.study_key == study_key) & (c.status == "done")).order_by(c.chunk)).all()]

    def list_studies(self) -> list[dict]:
        import sqlalchemy as sa

        with self.reader.connect() as conn:
            rows = conn.execute(sa.select(self.studies)).all()
        out = []
        for r in rows:
            p = self.progress(r.study_key)
            out.append({"study_key": r.study_key, "n_chunks": r.n_chunks, "meta": json.loads(r.meta),
                        "created": r.created, **p})
        return out

    def meta(self, study_key: str) -> dict | None:
        import sqlalchemy as sa

        with self.reader.connect() as conn:
            row = conn.execute(sa.select(self.studies.c.meta).where(self.studies.c.study_key == study_key)).first()
        return None if row is None else json.loads(row[0])

    @property
    def safe_url(self) -> str:
        return redact(self.url)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.reader is not self.engine:
            self.reader.dispose()


# -- serialization of a chunk's rows (no pickle) ------------------------------------------------
def _jsonable(obj):
    """Counts and notes as plain JSON (numpy scalars and arrays converted)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


_MAGIC = b"MLSYSIM-CHUNK/1\n"


def pack(table: Table | None, counts: dict) -> bytes:
    """Serialize a Table and its counts: a JSON header, then each numeric column's raw bytes
    (dtype and offset in the header); text columns (and None) inside the header as JSON."""
    columns, blobs, offset = [], [], 0
    if table is not None:
        for name in table.names:
            col = np.asarray(table[name])
            if col.dtype.kind in "biuf":
                data = np.ascontiguousarray(col).tobytes()
                columns.append({"name": name, "dtype": col.dtype.str, "offset": offset, "n": len(col)})
                blobs.append(data)
                offset += len(data)
            else:
                columns.append({"name": name, "text": [None if v is None else str(v) for v in col.tolist()]})
    header = json.dumps({"counts": _jsonable(counts), "columns": columns, "has_table": table is not None},
                        default=str).encode()
    return b"".join([_MAGIC, len(header).to_bytes(8, "little"), header, *blobs])


def unpack(payload: bytes) -> tuple[Table | None, dict]:
    payload = bytes(payload)
    if not payload.startswith(_MAGIC):
        raise StorageError("a stored chunk is not in mlsysim's chunk format (written by another version?)")
    at = len(_MAGIC)
    n = int.from_bytes(payload[at:at + 8], "little")
    header = json.loads(payload[at + 8:at + 8 + n].decode())
    if not header["has_table"]:
        return None, header["counts"]
    base = at + 8 + n
    cols = {}
    for c in header["columns"]:
        if "text" in c:
            arr = np.empty(len(c["text"]), dtype=object)
            arr[:] = c["text"]
            cols[c["name"]] = arr
        else:
            dt = np.dtype(c["dtype"])
            cols[c["name"]] = np.frombuffer(payload, dtype=dt, count=c["n"], offset=base + c["offset"]).copy()
    return Table(cols), header["counts"]
