"""Where a search keeps its state: the one parser of storages given as a path or a URL.

Every place that takes a storage (``DSE.run(storage=)``, ``--storage``, the chunk store, optuna's
storages, study report folders) reads it here, so the same text means the same thing everywhere:

* a SQLAlchemy URL of a known dialect (``sqlite:///x.db``, ``postgresql://user@host/db``, ...);
  ``postgresql://`` gets the driver that is installed;
* a file ending in ``.db`` / ``.sqlite`` / ``.sqlite3`` -> ``sqlite:///<absolute path>``;
* a file ending in ``.log`` / ``.journal`` / ``.jsonl`` -> an optuna journal file;
* with ``folder_db`` (studies): a folder -> ``sqlite:///<folder>/<folder_db>``.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
import re

from ..core.errors import StorageError

SQL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb", "oracle", "mssql")
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")
EXAMPLES = "sqlite:///study.db or postgresql://user@host/db"


def redact(url) -> str:
    """A storage URL with its password replaced by ***."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", str(url))


@dataclasses.dataclass(frozen=True)
class Storage:
    """A parsed storage: ``kind`` is ``"sql"`` (``url`` is a SQLAlchemy URL) or ``"journal"``
    (``url`` is the journal file's absolute path)."""

    kind: str
    url: str

    @property
    def is_sqlite(self) -> bool:
        return self.kind == "sql" and self.url.startswith("sqlite")

    @property
    def sqlite_path(self) -> str | None:
        """The database file of a ``sqlite:///`` URL (None for other storages and in-memory SQLite)."""
        if not self.url.startswith("sqlite:///"):
            return None
        path = self.url[len("sqlite:///"):]
        return None if path in ("", ":memory:") else path

    @property
    def safe(self) -> str:
        return redact(self.url)

    def __str__(self) -> str:
        return self.url


def _driver(url: str) -> str:
    """``postgresql://`` -> the installed driver (SQLAlchemy 2.1 defaults to psycopg 3;
    ``psycopg2-binary`` is what mlsysim[distributed] brings)."""
    scheme, rest = url.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        import importlib.util

        if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
            return f"postgresql+psycopg2://{rest}"
        return f"postgresql://{rest}"
    return url


def parse_storage(storage, *, folder_db: str | None = None) -> Storage:
    """Read a storage path or URL (see the module docstring); StorageError (exit 2) when it is none."""
    if isinstance(storage, Storage):
        return storage
    if not isinstance(storage, (str, os.PathLike)) or not str(storage).strip():
        raise StorageError(f"storage {storage!r}: expected a path or a URL such as {EXAMPLES}")
    text = str(storage).strip()
    if "://" in text:
        if text.split("://", 1)[0].split("+")[0].lower() not in SQL_SCHEMES:
            raise StorageError(f"storage {redact(text)!r}: not an SQLAlchemy database URL", hint=f"e.g. {EXAMPLES}")
        return Storage("sql", _driver(text))
    path = pathlib.Path(text).expanduser()
    if folder_db is not None and path.is_dir():
        path = path / folder_db
    if path.suffix in SQLITE_SUFFIXES:
        return Storage("sql", f"sqlite:///{os.path.abspath(path)}")
    if path.suffix in JOURNAL_SUFFIXES:
        return Storage("journal", os.path.abspath(path))
    if folder_db is not None and not path.exists() and not path.suffix:
        raise StorageError(f"storage {text!r}: no such report folder (no study database there)",
                           hint="give the --out folder of a `study run`, a .db file, or the --storage URL it used")
    what = "a report folder, a .db file" if folder_db is not None else "a file ending in .db or .log/.journal"
    raise StorageError(f"storage {text!r}: expected {what} or a URL such as {EXAMPLES}")


def sql_storage(storage, *, folder_db: str | None = None, why: str = "this storage") -> Storage:
    """``parse_storage`` that refuses optuna journal files (``why`` needs an SQL database)."""
    spec = parse_storage(storage, folder_db=folder_db)
    if spec.kind != "sql":
        raise StorageError(f"storage {str(storage)!r}: {why} needs an SQL database, not an optuna journal file",
                           hint="use a .db file or a postgresql:// URL")
    return spec
