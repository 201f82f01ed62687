"""``tracemap.toml``: which fields yield correlation keys, and the correlation thresholds.

The file is optional. ``load_config()`` reads the path it is given, else ``$TRACEMAP_CONFIG``,
else ``./tracemap.toml`` when there is one, else uses the defaults::

    [correlation]
    max_key_fanout = 1000   # a key value shared by more entities than this is ignored
    skew_seconds = 2.0      # clock-skew tolerance when ordering systems by time
    min_confidence = 0.5    # derived edges below this are not kept

    [correlation.headers]           # message header name (any case) -> key kind
    "x-order-id" = "business:order_id"
    "x-request-id" = false          # false drops a default rule

    [correlation.attributes]        # span/log attribute name (exact) -> key kind
    "app.order_id" = "business:order_id"

    [correlation.payload]           # JSONPath-like path into decoded payloads -> key kind
    "payload.orderId" = "business:order_id"
    "items[*].sku" = "business:sku"

A kind is one of ``model.KeyKind`` or ``business:<name>``. Rules add to the defaults in
``ingest/base.py`` (a rule for a default name replaces it). Mistakes are errors that name the
file, line, table and entry, and what would be valid.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.base import KeyRules
from tracemap.errors import ConfigError
from tracemap.model import KeyKind

#: The default file, looked for in the working directory.
DEFAULT_FILE = "tracemap.toml"
#: Environment variable naming the file.
ENV_VAR = "TRACEMAP_CONFIG"

#: Rule tables under ``[correlation]`` and the ``KeyRules`` field each fills.
RULE_TABLES = {"headers": "header_keys", "attributes": "attribute_keys",
               "payload": "payload_keys"}
#: Scalar settings under ``[correlation]`` and their defaults.
SETTINGS: dict[str, float | int] = {"max_key_fanout": 1000, "skew_seconds": 2.0,
                                    "min_confidence": 0.5}
SECTIONS = {"correlation": (*RULE_TABLES, *SETTINGS)}

_BUSINESS = re.compile(r"^business:[A-Za-z0-9_.\-]+$")



@dataclass(frozen=True, slots=True)
class Config:
    """The settings in force: key rules for ingestors, thresholds for correlation."""

    rules: KeyRules = field(default_factory=KeyRules)
    max_key_fanout: int = 1000
    skew_seconds: float = 2.0
    min_confidence: float = 0.5
    #: The file these came from (None: defaults only).
    path: Path | None = None

    @property
    def correlate_params(self) -> dict[str, Any]:
        """Keyword arguments for ``tracemap.correlate.correlate``."""
        return {"max_key_fanout": self.max_key_fanout, "skew_seconds": self.skew_seconds,
                "min_confidence": self.min_confidence}


def load_config(path: Path | str | None = None) -> Config:
    """The configuration from ``path``, ``$TRACEMAP_CONFIG`` or ``./tracemap.toml``.

    A path given (as argument or in the environment) must exist; ``./tracemap.toml`` is read
    only when present. Without any file the defaults apply.

    Raises:
        ConfigError: the file is missing, is not TOML, or holds something unknown or invalid.
    """
    named = path if path is not None else os.environ.get(ENV_VAR) or None
    if named is None:
        default = Path(DEFAULT_FILE)
        if not default.is_file():
            return Config()
        file = default
    else:
        file = Path(named)
        if not file.is_file():
            hint = ("check the path" if path is not None
                    else f"it comes from ${ENV_VAR}: fix or unset it to use the defaults")
            raise ConfigError(f"{file}: no such config file ({hint}).")
    try:
        text = file.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read the config file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    return _build(file, text, data)


def _build(file: Path, text: str, data: dict[str, Any]) -> Config:
    where = _Locator(file, text)
    for section, value in data.items():
        if section not in SECTIONS:
            raise ConfigError(f"{where.table(section)}: unknown section [{section}]."
                              f"{_did_you_mean(section, SECTIONS, '[{}]')} "
                              f"Known sections: {', '.join(f'[{s}]' for s in SECTIONS)}.")
        if not isinstance(value, dict):
            raise ConfigError(f"{where.table(section)}: [{section}] must be a table, got "
                              f"{_toml_type(value)}.")
    corr: dict[str, Any] = data.get("correlation", {})
    for name in corr:
        if name not in SECTIONS["correlation"]:
            raise ConfigError(f"{where.key('correlation', name)}: [correlation] unknown key "
                              f"'{name}'.{_did_you_mean(name, SECTIONS['correlation'])} Known "
                              f"keys: {', '.join(SECTIONS['correlation'])}.")
    rules = KeyRules()
    for table, attr in RULE_TABLES.items():
        entries = corr.get(table, {})
        if not isinstance(entries, dict):
            raise ConfigError(f"{where.key('correlation', table)}: [correlation] {table} must "
                              f"be a table of name = \"kind\", got {_toml_type(entries)}.")
        target: dict[str, str] = getattr(rules, attr)
        for name, kind in entries.items():
            loc = where.key(f"correlation.{table}", name)
            label = f"[correlation.{table}] \"{name}\""
            if not name.strip():
                raise ConfigError(f"{loc}: [correlation.{table}] has an empty name.")
            key = name.lower() if table == "headers" else name  # headers compare lower-cased
            if kind is False:
                target.pop(key, None)
                continue
            if not isinstance(kind, str):
                raise ConfigError(f"{loc}: {label}: expected a key kind (a string) or false, "
                                  f"got {_toml_type(kind)}.")
            target[key] = _kind(kind, loc, label)
    settings = {name: _setting(name, corr.get(name, default), where)
                for name, default in SETTINGS.items()}
    return Config(rules=rules, path=file, **settings)


def _kind(kind: str, loc: str, label: str) -> str:
    kind = kind.strip()
    valid = [str(k) for k in KeyKind]
    if kind in valid or _BUSINESS.match(kind):
        return kind
    # Only a near-certain match is offered as a typo: 'order_id' means business:order_id,
    # not trace_id.
    close = difflib.get_close_matches(kind, valid, n=1, cutoff=0.8)
    if close:
        hint = f" Did you mean '{close[0]}'?"
    elif re.match(r"^[A-Za-z0-9_.\-]+$", kind):
        hint = f" Did you mean 'business:{kind}'?"
    else:
        hint = ""
    raise ConfigError(f"{loc}: {label}: unknown key kind '{kind}'.{hint} Valid kinds: "
                      f"{', '.join(valid)}, or business:<name> (e.g. business:order_id).")


def _setting(name: str, value: Any, where: _Locator) -> float | int:
    loc = where.key("correlation", name)
    if name == "max_key_fanout":
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise ConfigError(f"{loc}: [correlation] max_key_fanout: expected an integer of at "
                              f"least 2, got {value!r}.")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{loc}: [correlation] {name}: expected a number, got {value!r}.")
    if name == "skew_seconds" and value < 0:
        raise ConfigError(f"{loc}: [correlation] skew_seconds: expected 0 or more seconds, "
                          f"got {value!r}.")
    if name == "min_confidence" and not 0 <= value <= 1:
        raise ConfigError(f"{loc}: [correlation] min_confidence: expected a number from 0 to "
                          f"1, got {value!r}.")
    return float(value)


def _did_you_mean(name: str, options: Any, fmt: str = "'{}'") -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" Did you mean {fmt.format(close[0])}?" if close else ""


def _toml_type(value: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number"}.get(type(value), type(value).__name__)


class _Locator:
    """``file:line`` of a table or an entry, found in the text (TOML parsers give no lines)."""

    def __init__(self, file: Path, text: str) -> None:
        self.file = file
        self.lines = text.splitlines()

    def _header(self, table: str) -> int | None:
        pattern = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(
            re.escape(part) for part in table.split(".")) + r"\s*\]")
        for i, line in enumerate(self.lines):
            if pattern.match(line):
                return i
        return None

    def table(self, table: str) -> str:
        i = self._header(table)
        if i is None:
            i = self._find(re.compile(r"^\s*" + re.escape(table) + r"\s*[.=]"), 0)
        return f"{self.file}:{i + 1}" if i is not None else str(self.file)

    def key(self, table: str, name: str) -> str:
        quoted = r"(?:" + re.escape(name) + r"|\"" + re.escape(name) + r"\"|'" + \
            re.escape(name) + r"')"
        start = self._header(table)
        i = None
        if start is not None:
            i = self._find(re.compile(r"^\s*" + quoted + r"\s*="), start + 1, stop_at_table=True)
        if i is None:  # dotted keys or an inline table elsewhere
            i = self._find(re.compile(quoted + r"\s*="), 0)
        return f"{self.file}:{i + 1}" if i is not None else str(self.file)

    def _find(self, pattern: re.Pattern[str], start: int, stop_at_table: bool = False
              ) -> int | None:
        for i in range(start, len(self.lines)):
            line = self.lines[i]
            if stop_at_table and line.lstrip().startswith("["):
                return None
            if pattern.search(line):
                return i
        return None
