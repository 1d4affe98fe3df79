"""The one storage parser: the same text means the same storage everywhere."""
from __future__ import annotations

import pytest

from mlsysim.core.errors import StorageError
from mlsysim.dse.storage_url import parse_storage, redact, sql_storage


def test_paths_and_urls(tmp_path):
    assert parse_storage(tmp_path / "a.db").url == f"sqlite:///{tmp_path / 'a.db'}"
    assert parse_storage(tmp_path / "a.db").sqlite_path == str(tmp_path / "a.db")
    assert parse_storage(str(tmp_path / "a.journal")).kind == "journal"
    assert parse_storage("postgresql://u@h/db").kind == "sql" and parse_storage("postgresql://u@h/db").sqlite_path is None
    assert parse_storage(str(tmp_path), folder_db="study.db").url == f"sqlite:///{tmp_path / 'study.db'}"
    assert parse_storage("sqlite:///:memory:").sqlite_path is None


@pytest.mark.parametrize("bad", ["ftp://x/y", "notaurl://", "nonsense.txt", 5, "", None])
def test_refused(bad):
    with pytest.raises(StorageError) as info:
        parse_storage(bad)
    assert info.value.exit_code == 2


def test_journal_refused_where_sql_is_needed(tmp_path):
    with pytest.raises(StorageError, match="needs an SQL database"):
        sql_storage(tmp_path / "x.log", why="a study")


def test_missing_report_folder_named(tmp_path):
    with pytest.raises(StorageError, match="no such report folder"):
        parse_storage(tmp_path / "none", folder_db="study.db")


def test_redact():
    assert redact("postgresql://alice:s3cret@host/db") == "postgresql://alice:***@host/db"
