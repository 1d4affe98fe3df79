"""Search backends: one base class (:mod:`.base`), one module each, selected by name."""
