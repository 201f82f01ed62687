"""Exports of a correlated store into other tools' formats (OCEL 2.0 for process mining)."""
