"""The one YAML reader and the one pydantic-error formatter of the package, shared by the catalog,
plans, search spaces and studies.

``read_yaml(path)`` / ``parse_yaml(text, source)`` return the data (safe loader; a key given twice
in one mapping is an error) and a map ``{key path tuple: (line, column)}`` of every mapping key
and list item. Syntax errors become a ``SchemaError`` naming ``file:line:column``.

``validation_messages(exc, source=..., lines=...)`` turns a pydantic ``ValidationError`` into one
``file:line:column: [context: ]field.path: problem`` line per error, with a did-you-mean for an
unknown field (``model_cls`` gives the valid field names) and ``(got VALUE)`` for a rejected value.
"""
from __future__ import annotations

import pathlib
import re
import typing
from typing import Any, Iterable, Mapping, Sequence

import yaml
from pydantic import BaseModel, ValidationError

from .errors import SchemaError, closest

Lines = Mapping[tuple, tuple]
#: location parts pydantic adds for union members (not keys of the user's document)
_UNION_TAGS = frozenset({"float", "str", "int", "bool"})
_MAX_GOT = 80  # longer rejected values, and mappings or lists, are not repeated in the message


def check_unique_keys(node) -> None:
    """Raise a YAML error (with line and column) for a key given twice in one mapping: YAML
    loaders keep the last value silently, so ``tdp: 700 W`` ... ``tdp: 70 W`` would lose one."""
    seen: dict = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        ident = (key.tag, key.value)
        if ident in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark,
                f"duplicate key {key.value!r} (first given on line {seen[ident].line + 1})", key.start_mark)
        seen[ident] = key.start_mark


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The safe loader (C-accelerated when available), rejecting duplicate keys."""

    def construct_mapping(self, node, deep=False):
        check_unique_keys(node)
        return super().construct_mapping(node, deep=deep)


def key_lines(node, path: tuple = (), out: dict | None = None) -> dict:
    """``{key path: (line, column)}`` (1-based) of every mapping key and list item under ``node``."""
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k)
            out[path + (key,)] = (k.start_mark.line + 1, k.start_mark.column + 1)
            key_lines(v, path + (key,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            out[path + (i,)] = (v.start_mark.line + 1, v.start_mark.column + 1)
            key_lines(v, path + (i,), out)
    return out


def parse_yaml(text: str, source: str = "<input>") -> tuple[Any, dict]:
    """YAML text -> (data, key line map); a syntax error is a SchemaError with line and column."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        pos = f"{mark.line + 1}:{mark.column + 1}" if mark else "?:?"
        raise SchemaError(f"{source}:{pos}: malformed YAML at {at}: {exc.problem}",
                          hint="fix the YAML syntax at that position") from None
    except yaml.YAMLError as exc:
        raise SchemaError(f"{source}: malformed YAML: {exc}") from None
    except Exception as exc:  # PyYAML's constructors leak e.g. IndexError on "!!int " or nesting too deep
        raise SchemaError(f"{source}: malformed YAML: cannot read a value ({type(exc).__name__}: {exc})",
                          hint="check explicit tags (!!int, !!float ...) and nesting") from None
    return data, (key_lines(node) if node is not None else {})


def read_yaml(path: str | pathlib.Path, what: str = "YAML") -> tuple[Any, dict]:
    """Read and parse a YAML file (see ``parse_yaml``); a missing or unreadable file is a SchemaError."""
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemaError(f"{path}: file not found", hint="check the path") from None
    except IsADirectoryError:
        raise SchemaError(f"{path}: cannot read file: it is a directory, not a {what} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"{path}: cannot read file ({exc})") from None
    return parse_yaml(text, str(path))


def where(source: str, lines: Lines | None, keys: Sequence, *, shown: Sequence | None = None,
          context: str | None = None) -> str:
    """``file:line:col: [context: ]a.b`` for the deepest of ``keys`` that has a known position;
    ``shown`` is the field path printed (default: ``keys``)."""
    keys = tuple(keys)
    pos = None
    for n in range(len(keys), 0, -1):
        pos = (lines or {}).get(keys[:n])
        if pos:
            break
    parts = [source + (f":{pos[0]}:{pos[1]}" if pos else "")]
    if context:
        parts.append(context)
    field = ".".join(str(k) for k in (keys if shown is None else shown))
    if field:
        parts.append(field)
    return ": ".join(parts)


def _fields_of(model_cls, loc) -> list[str]:
    """Field names (by alias) valid at ``loc`` (the parent of an unknown key) of ``model_cls``."""
    cls = model_cls
    for part in loc:
        if isinstance(part, int):
            continue
        f = cls.model_fields.get(part) or next((v for v in cls.model_fields.values() if v.alias == part), None)
        if f is None:
            return []
        for cand in (f.annotation, *typing.get_args(f.annotation)):
            nested = next((c for c in (cand, *typing.get_args(cand)) if isinstance(c, type) and issubclass(c, BaseModel)),
                          None)
            if nested is not None:
                cls = nested
                break
        else:
            return []
    return [v.alias or k for k, v in cls.model_fields.items()]


def _is_tag(part, tags: Iterable[str]) -> bool:
    """A location part pydantic adds (a union member, ``function-after[...]``), not a document key."""
    return isinstance(part, str) and (part in _UNION_TAGS or part in tags
                                      or re.fullmatch(r"[\w-]+\[.*\]", part) is not None)


def validation_messages(exc: ValidationError, *, source: str, lines: Lines | None = None, prefix: tuple = (),
                        context: str | None = None, model_cls: type | None = None,
                        tags: Iterable[str] = ()) -> list[str]:
    """One ``file:line:col: [context: ]field: problem`` line per pydantic error, without duplicates.

    ``prefix`` is where the validated object sits in the document (its positions are looked up under
    it; the printed field path is relative to it); ``model_cls`` names the valid fields of an unknown
    key (did-you-mean); ``tags`` are extra union-member names to drop from locations."""
    tags = frozenset(tags)
    msgs = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not _is_tag(p, tags))
        at = lambda loc: where(source, lines, tuple(prefix) + loc, shown=loc, context=context)  # noqa: E731
        if err["type"] == "extra_forbidden":  # the last part is the user's key, whatever it looks like
            parent = tuple(p for p in err["loc"][:-1] if not _is_tag(p, tags))
            key = err["loc"][-1]
            valid = _fields_of(model_cls, parent) if model_cls is not None else []
            near = closest(str(key), valid)
            hint = f" (did you mean {' or '.join(repr(n) for n in near)}?)" if near else \
                   (f" (valid fields: {', '.join(valid)})" if valid else "")
            msgs.append(f"{at(parent + (key,))}: unknown field{hint}")
        elif err["type"] == "missing":
            msgs.append(f"{at(loc)}: required field is missing")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            value = err.get("input")
            got = repr(value)
            if "input" in err and not isinstance(value, (dict, list)) and len(got) <= _MAX_GOT and got not in msg:
                msg += f" (got {got})"
            msgs.append(f"{at(loc)}: {msg}")
    return list(dict.fromkeys(msgs))


def format_validation_error(exc: ValidationError, *, where: str, **kw) -> str:
    """``validation_messages`` of values that came from no file (keyword arguments, options), located
    at ``where``, joined into one text, one problem per line."""
    return "\n".join(validation_messages(exc, source=where, **kw))
