"""The published JSON Schemas of mlsysim's output documents (files in ``mlsysim/schemas/``).

Below every layer that writes such a document (the evaluator, ``dse``, ``study``) and the CLI that
prints them, so each can validate its output without importing the CLI.
"""
from __future__ import annotations

import json
import pathlib

from .errors import UnknownNameError

SCHEMA_DIR = pathlib.Path(__file__).resolve().parent.parent / "schemas"
#: Published output schemas, by the name ``mlsysim schema result NAME`` takes.
RESULT_SCHEMAS = {
    "evaluation": "evaluation.schema.json",
    "serve": "serve.schema.json",
    "zoo-list": "zoo-list.schema.json",
    "zoo-show": "zoo-show.schema.json",
    "zoo-summary": "zoo-summary.schema.json",
    "metrics": "metrics.schema.json",
    "error": "error.schema.json",
    "optimize": "optimize.schema.json",
    "study": "study.schema.json",
}


def load_result_schema(name: str) -> dict:
    """A published output schema (``mlsysim/schemas/<name>.schema.json``)."""
    if name not in RESULT_SCHEMAS:
        raise UnknownNameError("result schema", name, RESULT_SCHEMAS)
    return json.loads((SCHEMA_DIR / RESULT_SCHEMAS[name]).read_text(encoding="utf-8"))
