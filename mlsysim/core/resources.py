"""Files that ship inside the package, addressable by name: search spaces, studies and example plans.

Paths in the repository are for editing, names are for using: ``--space parallelism``,
``mlsysim study run quickstart``, ``mlsysim optimize parallelism example_cluster.yaml``. A
reference is a path first (absolute, or relative to the given base folders -- the working
directory, or the study file's folder) and otherwise the name of a shipped file, with or without
``.yaml``. The repository's top-level ``search_spaces/``, ``studies/`` and ``examples/`` folders
hold relative symlinks to these packaged files.
"""
from __future__ import annotations

import pathlib
from typing import Iterable

from .errors import SchemaError, UnknownNameError, closest

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent.parent
#: kind of file -> its folder inside the package
FOLDERS = {"search space": "search_spaces", "study": "studies", "plan": "plans"}
_SUFFIXES = (".yaml", ".yml")


def shipped_dir(kind: str) -> pathlib.Path:
    """The package folder of shipped files of ``kind`` (``"search space"``, ``"study"``, ``"plan"``)."""
    return PACKAGE_DIR / FOLDERS[kind]


def shipped_names(kind: str) -> list[str]:
    """The names of the shipped files of ``kind`` (file names without ``.yaml``), sorted."""
    folder = shipped_dir(kind)
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def shipped_file(kind: str, name: str) -> pathlib.Path | None:
    """The shipped file called ``name`` (``parallelism`` or ``parallelism.yaml``), or None."""
    stem = name[: -len(s)] if (s := next((s for s in _SUFFIXES if name.endswith(s)), "")) else name
    path = shipped_dir(kind) / f"{stem}.yaml"
    return path if stem in shipped_names(kind) else None


def _is_bare_name(ref: str) -> bool:
    """``parallelism`` or ``parallelism.yaml``: no folder part, so it may name a shipped file."""
    p = pathlib.PurePath(ref)
    return len(p.parts) == 1 and (p.suffix in _SUFFIXES or not p.suffix)


def resolve_file(ref: str | pathlib.Path, kind: str, *, bases: Iterable[pathlib.Path] | None = None,
                 where: str | None = None) -> pathlib.Path:
    """The file ``ref`` names: an existing path (absolute, or relative to each of ``bases``, by
    default the working directory; ``.yaml`` may be left off), else a shipped file of ``kind``.
    A bare name that matches nothing is an ``UnknownNameError`` with a did-you-mean over the
    shipped names; a path that does not exist is a ``SchemaError`` (both exit code 2)."""
    ref_s = str(ref)
    path = pathlib.Path(ref_s).expanduser()
    bases = [pathlib.Path.cwd()] if bases is None else list(bases)
    cands = [path] if path.is_absolute() else [b / path for b in bases]
    for c in list(cands):
        if not c.suffix:
            cands.append(c.with_name(c.name + ".yaml"))
    for c in cands:
        if c.is_file():
            return c
    names = shipped_names(kind)
    if _is_bare_name(ref_s):
        hit = shipped_file(kind, ref_s)
        if hit is not None:
            return hit
        if not pathlib.PurePath(ref_s).suffix:  # a name: did-you-mean over the shipped names
            err = UnknownNameError(kind, ref_s, names, where=where)
            err.hint = f"{err.hint} (or give the path of a YAML file)"
            raise err
    for c in cands:
        if c.is_dir():
            raise SchemaError(f"{where + ': ' if where else ''}{ref_s}: is a directory, not a {kind} file")
    near = closest(pathlib.PurePath(ref_s).stem, names) if _is_bare_name(ref_s) else []
    hint = "check the path" + (f", or give the name of a shipped {kind}: {', '.join(names)}" if names else "")
    if near:
        hint = "did you mean " + " or ".join(repr(n) for n in near) + f"? ({hint})"
    looked = ", ".join(str(b) for b in bases) if not path.is_absolute() else ""
    msg = (f"{where}: {kind} file {ref_s!r} not found" if where else f"{ref_s}: {kind} file not found")
    raise SchemaError(msg + (f" (looked in {looked} and the shipped {kind} files)" if looked and _is_bare_name(ref_s)
                             else f" (looked in {looked})" if looked and where else ""), hint=hint)
