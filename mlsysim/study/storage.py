"""Where a study's results live: one SQL database (SQLAlchemy URL) holding the study records
(``mlsysim_study_records``: the expanded study, enough to rebuild every search), the exhaustive
chunks (``mlsysim_studies`` / ``mlsysim_chunks``, see ``mlsysim.dse.chunk_store``) and optuna's
own tables. Default: ``sqlite:///<out>/study.db``; PostgreSQL for workers on many machines.
"""
from __future__ import annotations

import json
import pathlib
import time

from ..core.errors import StorageError, UnknownNameError, UserInputError
from ..dse.chunk_store import ChunkStore, create_tables, retry_locked
from ..dse.storage_url import redact, sql_storage

DB_NAME = "study.db"


def resolve_storage(storage: str | None, out: pathlib.Path | None = None) -> str:
    """A SQLAlchemy URL from ``--storage`` (a URL, a ``.db`` file or a report folder), or the
    default ``sqlite:///<out>/study.db``."""
    if storage is None or str(storage).strip() == "":
        if out is None:
            raise UserInputError("no storage given", hint="pass --storage URL (or a report folder)")
        return sql_storage(pathlib.Path(out) / DB_NAME).url
    return sql_storage(storage, folder_db=DB_NAME, why="a study").url


def existing_storage(storage: str) -> str:
    """``resolve_storage`` for reading: a SQLite file that does not exist is an error (not a new database)."""
    spec = sql_storage(resolve_storage(storage))
    if spec.sqlite_path is not None and not pathlib.Path(spec.sqlite_path).exists():
        raise StorageError(f"no study database at {spec.sqlite_path}",
                           hint="give the report folder of a `study run`, or the --storage URL it used")
    return spec.url


class StudyStore:
    """Study records and chunks in one database."""

    def __init__(self, url: str):
        import sqlalchemy as sa

        self.chunks = ChunkStore(url)
        self.url = self.chunks.url
        self.engine = self.chunks.engine
        self.metadata = sa.MetaData()
        self.records = sa.Table(
            "mlsysim_study_records", self.metadata,
            sa.Column("study_id", sa.String(200), primary_key=True),
            sa.Column("name", sa.String(200), nullable=False, index=True),
            sa.Column("record", sa.Text, nullable=False),
            sa.Column("walls", sa.Text),
            sa.Column("created", sa.Float, nullable=False),
            sa.Column("updated", sa.Float),
        )
        try:
            create_tables(self.metadata, self.engine)
        except Exception as exc:  # noqa: BLE001
            from ..dse.chunk_store import storage_error

            raise storage_error(self.url, exc) from None

    @property
    def safe_url(self) -> str:
        return redact(self.url)

    def register(self, study) -> bool:
        """Store the study's record unless it is there; returns True when created."""
        import sqlalchemy as sa

        if self.get(study.id) is not None:
            return False
        try:
            with self.engine.begin() as conn:
                conn.execute(self.records.insert().values(study_id=study.id, name=study.name,
                                                          # key order matters (dimensions): not sorted
                                                          record=json.dumps(study.record()),
                                                          created=time.time()))
        except sa.exc.IntegrityError:
            return False
        return True

    def get(self, study_id: str) -> dict | None:
        """{"study_id", "name", "record", "walls", "created"} or None."""
        import sqlalchemy as sa

        with self.chunks.reader.connect() as conn:
            row = conn.execute(sa.select(self.records).where(self.records.c.study_id == study_id)).first()
        return None if row is None else self._row(row)

    @staticmethod
    def _row(row) -> dict:
        return {"study_id": row.study_id, "name": row.name, "record": json.loads(row.record),
                "walls": json.loads(row.walls) if row.walls else {}, "created": row.created, "updated": row.updated}

    def all(self) -> list[dict]:
        import sqlalchemy as sa

        with self.chunks.reader.connect() as conn:
            rows = conn.execute(sa.select(self.records).order_by(self.records.c.created)).all()
        return [self._row(r) for r in rows]

    def find(self, name: str | None) -> dict:
        """The one study named ``name`` (a name or an id); without a name, the only (or newest) study."""
        rows = self.all()
        if not rows:
            raise UserInputError(f"no study in {self.safe_url}",
                                 hint="start one with `mlsysim study run FILE --storage URL`")
        if name is None:
            names = {r["name"] for r in rows}
            if len(names) > 1:
                raise UserInputError(f"{self.safe_url} holds several studies: {', '.join(sorted(names))}",
                                     hint="choose one with --study NAME")
            return rows[-1]
        hits = [r for r in rows if r["study_id"] == name] or [r for r in rows if r["name"] == name]
        if not hits:
            raise UnknownNameError("study", name, [r["name"] for r in rows] + [r["study_id"] for r in rows],
                                   where=self.safe_url)
        return hits[-1]

    def set_walls(self, study_id: str, walls: dict) -> None:
        def do():
            with self.engine.begin() as conn:
                conn.execute(self.records.update().where(self.records.c.study_id == study_id)
                             .values(walls=json.dumps(walls, sort_keys=True), updated=time.time()))
        retry_locked(do)

    def dispose(self) -> None:
        self.chunks.dispose()
