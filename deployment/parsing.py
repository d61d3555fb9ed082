"""Parse deployment.toml into the schema's dataclasses, naming the key and the line of every
mistake (``tomllib`` gives no line for a value, so :class:`KeyLines` finds it in the text)."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from pathlib import Path

from deployment.errors import DeploymentError
from deployment.schema import AccessControlEntry, Deployment, StrList

_ENV_REFERENCE = re.compile(r"\$env\{([^}]*)\}")


class Reader:
    """Turn the parsed TOML into the dataclasses above, naming key and line on every error."""

    def __init__(self, text: str, path: Path):
        self.text, self.path = text, path
        self.lines = KeyLines(text)

    def read(self) -> Deployment:
        """Return the configuration the text gives, defaults filled in (not yet checked whole)."""
        try:
            raw = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
            raise DeploymentError(f"not valid TOML: {exc}", path=self.path, line=line) from exc
        return self.build(Deployment, raw, ())

    def fail(self, keypath: tuple, message: str) -> typing.NoReturn:
        raise DeploymentError(message, path=self.path, key=_dotted(keypath), line=self.lines.find(keypath))

    def build(self, cls: type, raw: object, keypath: tuple):
        if not isinstance(raw, dict):
            self.fail(keypath, f"must be a table, not {_toml_type(raw)}")
        hints = typing.get_type_hints(cls)
        known = {
            f.name: f for f in dataclasses.fields(cls) if f.init and f.name not in ("pattern", "line", "path")
        }
        for key in raw:
            if key not in known:
                choices = ", ".join(sorted(known))
                self.fail((*keypath, key), f"unknown key; the keys here are: {choices}")
        values = {}
        for name, spec in known.items():
            if name in raw:
                values[name] = self.convert(hints[name], raw[name], (*keypath, name))
            elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                self.fail((*keypath, name), "is required")
        if cls is AccessControlEntry:
            values["pattern"] = self.compile_context(values["context"], (*keypath, "context"))
            values["line"] = self.lines.find(keypath)
        return cls(**values)

    def convert(self, hint, value, keypath: tuple):
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return self.build(hint, value, keypath)
        if hint is StrList:
            if isinstance(value, str):
                value = self.substitute_env(value, keypath)
                return StrList(part.strip() for part in value.split(",") if part.strip())
            return StrList(self.convert(tuple[str, ...], value, keypath))
        origin = typing.get_origin(hint)
        if origin is tuple:
            item_type = typing.get_args(hint)[0]
            if not isinstance(value, list):
                self.fail(keypath, f"must be an array, not {_toml_type(value)}")
            return tuple(self.convert(item_type, item, (*keypath, index)) for index, item in enumerate(value))
        if origin in (types.UnionType, typing.Union):  # `int | None` and the like
            hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        # bool is a subclass of int: `port = true` must not pass as 1.
        if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
            self.fail(keypath, f"must be {_toml_name(hint)}, not {_toml_type(value)}")
        if isinstance(value, str):
            value = self.substitute_env(value, keypath)
        return value

    def substitute_env(self, value: str, keypath: tuple) -> str:
        """Replace WSO2's ``$env{NAME}`` references with the environment's values."""

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name not in os.environ:
                self.fail(keypath, f"refers to $env{{{name}}}, but the environment has no variable {name}")
            return os.environ[name]

        return _ENV_REFERENCE.sub(replace, value)

    def compile_context(self, regex: str, keypath: tuple) -> re.Pattern:
        try:
            return re.compile(regex, re.IGNORECASE)
        except re.error as exc:
            self.fail(keypath, f"is not a valid regular expression: {exc}")


def _line_from_message(message: str) -> int | None:
    found = re.search(r"line (\d+)", message)
    return int(found.group(1)) if found else None


def _dotted(keypath: tuple) -> str:
    text = ""
    for part in keypath:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _toml_type(value: object) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _toml_name(hint: type) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(hint, str(hint))


class KeyLines:
    """Find the line of a key path in the TOML text, for error messages (tomllib gives none)."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_.\"' -]+?)\s*=")

    def __init__(self, text: str):
        self.places: dict[tuple, int] = {}
        counts: dict[tuple, int] = {}
        table: tuple = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._HEADER.match(line)
            if header:
                table = _split_key(header.group(2))
                if header.group(1) == "[[":
                    index = counts.get(table, -1) + 1
                    counts[table] = index
                    table = (*table, index)
                self.places.setdefault(table, number)
                continue
            key = self._KEY.match(line)
            if key:
                self.places.setdefault((*table, *_split_key(key.group(1))), number)

    def find(self, keypath: tuple) -> int | None:
        """Return the line of ``keypath``, or of the nearest enclosing table that has one."""
        for end in range(len(keypath), 0, -1):
            if keypath[:end] in self.places:
                return self.places[keypath[:end]]
        return None


def _split_key(dotted: str) -> tuple:
    return tuple(part.strip().strip("\"'") for part in dotted.split("."))
