"""One error hierarchy for the whole package, mapped to the CLI's documented exit codes.

Exit codes: 0 success; 1 internal error (a bug: please report it); 2 bad input (unknown name,
malformed YAML, schema violation, wrong units, empty or infeasible space, unreachable storage);
3 an ``assert`` constraint of a plan is violated (the report is still produced in full).
"""
from __future__ import annotations

import difflib
from typing import Iterable

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_CONSTRAINT_VIOLATED = 3


class MLSysimError(Exception):
    """Base of every error mlsysim raises on purpose."""

    exit_code = EXIT_INTERNAL
    #: True when the command already printed its full report (stdout holds the one JSON document);
    #: the CLI then only adds the message on stderr.
    after_report = False

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UserInputError(MLSysimError, ValueError):
    """The input is wrong; the message says what, where, and how to fix it (exit code 2)."""

    exit_code = EXIT_BAD_INPUT


class UnknownNameError(UserInputError, KeyError):
    """A catalog, metric or option name that does not exist; suggests the closest valid names."""

    def __init__(self, kind: str, name: str, valid: Iterable[str], *, where: str | None = None):
        name = str(name)  # a YAML key may be null or a number
        valid = sorted(set(map(str, valid)))
        self.kind, self.name, self.valid = kind, name, valid
        self.suggestions = closest(name, valid)
        location = f" (in {where})" if where else ""
        msg = f"unknown {kind} {name!r}{location}"
        if self.suggestions:
            hint = "did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?"
        else:
            shown = ", ".join(valid[:12]) + (" ..." if len(valid) > 12 else "")
            hint = f"valid {kind} names: {shown}"
        super().__init__(msg, hint=hint)

    __str__ = MLSysimError.__str__


class UnknownAttributeError(UnknownNameError, AttributeError):
    """An unknown name asked for as an attribute (``Hardware.H10``): also an AttributeError, so
    ``hasattr`` and ``getattr(obj, name, default)`` work."""


class UnitError(UserInputError):
    """A quantity with missing, unknown or wrong-dimension units."""


class SchemaError(UserInputError):
    """A YAML/JSON document or keyword argument that violates the schema; names file, entry, field."""


class InfeasibleError(UserInputError):
    """A search space that is empty after its rules, or in which no point meets the constraints."""


class StorageError(UserInputError):
    """A study storage URL that cannot be opened, or an output folder that cannot be written."""


class ConstraintViolation(MLSysimError):
    """An ``assert`` constraint of a plan does not hold (exit code 3)."""

    exit_code = EXIT_CONSTRAINT_VIOLATED
    after_report = True


def closest(name: str, valid: Iterable[str], n: int = 3) -> list[str]:
    """The valid names closest to ``name`` (case-insensitive), best first."""
    valid = list(valid)
    lower = {v.lower(): v for v in valid}
    hits = difflib.get_close_matches(name.lower(), list(lower), n=n, cutoff=0.5)
    prefix = [v for k, v in lower.items() if k.startswith(name.lower()) and v not in [lower[h] for h in hits]]
    return [lower[h] for h in hits] + prefix[: max(0, n - len(hits))]
