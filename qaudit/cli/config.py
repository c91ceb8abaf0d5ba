"""Project configuration: ``qaudit.toml`` or ``[tool.qaudit]`` in ``pyproject.toml``.

The nearest file found walking up from the working directory wins
(``qaudit.toml`` before ``pyproject.toml`` in the same folder; ``$QAUDIT_CONFIG``
names one explicitly). Layout::

    # qaudit.toml  (in pyproject.toml the same keys live under [tool.qaudit])
    model = "model.json"          # top-level keys are shared by every command that has the parameter
    data-dir = "data/mnist"
    scheduler = "tcp://10.0.0.5:8786"   # Dask scheduler for batches of jobs (docs/cluster.md)
    executor = "dask"                   # serial | local | dask (`qaudit executors`)

    [leak]                        # one table per command
    attacks = ["gray-box", "loss", "confidence"]
    shots = 1024
    fail-above = "auc=0.6,tpr@1%fpr=0.05,advantage=0.1"

    [unlearn]
    method = "rga"
    forget-class = 4

The commands' own Click parameters are the schema (:func:`command_keys`): a key is an option's long name
(``--fail-above`` -> ``fail-above``; ``_`` may stand for ``-``) or an argument's name (``MODEL_PATH`` ->
``model``); a repeatable option also answers to its plural (``attacks`` for ``--attack``) and takes a list
(a table for ``KEY=VALUE`` options). :func:`default_map` turns the file into Click's ``default_map``, set on
the root context before the command parses (:mod:`qaudit.cli.app`): a config value is a default, a flag or
environment variable overrides it, and the value is converted by the parameter's own type. Unknown keys and
tables, and values of the wrong type, are one-line errors naming the file, the table, the key and the
closest valid key. Relative paths (path-typed parameters) are relative to the config file's folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from qaudit.sdk.errors import QauditError

CONFIG_ENV = "QAUDIT_CONFIG"
#: Largest config file accepted (bytes): qaudit.toml or pyproject.toml.
MAX_CONFIG_BYTES = 1024 * 1024

if sys.version_info >= (3, 11):
    import tomllib as _toml
else:  # pragma: no cover - Python 3.10
    try:
        import tomli as _toml
    except ImportError:
        _toml = None


def find_config(start: str | os.PathLike[str] | None = None) -> tuple[Path, dict[str, Any]] | None:
    """``(path, table)`` of the nearest project config, or None.

    ``$QAUDIT_CONFIG`` names a file explicitly (``qaudit.toml`` layout).
    """
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit), _read(Path(explicit), tool=Path(explicit).name == "pyproject.toml")
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "qaudit.toml"
        if candidate.is_file():
            return candidate, _read(candidate, tool=False)
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            table = _read(candidate, tool=True)
            if table is not None:
                return candidate, table
    return None


def _read(path: Path, tool: bool) -> dict[str, Any] | None:
    if _toml is None:
        raise QauditError(f"reading {path} needs Python >= 3.11 or the 'tomli' package")
    from qaudit.files.io import MAX_TOML_DEPTH, read_text_limited, toml_depth

    text = read_text_limited(path, MAX_CONFIG_BYTES, "config")
    depth = toml_depth(text)
    if depth > MAX_TOML_DEPTH:
        raise QauditError(f"{path}: TOML nested about {depth} levels deep (at most {MAX_TOML_DEPTH} allowed)")
    try:
        doc = _toml.loads(text)
    except _toml.TOMLDecodeError as exc:
        raise QauditError(f"{path}: invalid TOML ({str(exc).splitlines()[0]})") from exc
    except RecursionError:  # pragma: no cover - the pre-scan bounds the depth
        raise QauditError(f"{path}: TOML nested too deeply") from None
    except ValueError:  # an integer beyond Python's 4300-digit conversion limit (issue 28)
        raise QauditError(f"{path}: invalid TOML (an integer with thousands of digits)") from None
    if tool:
        tool_table = doc.get("tool", {})
        table = tool_table.get("qaudit") if isinstance(tool_table, dict) else None
        if table is None:
            return None
        if not isinstance(table, dict):
            raise QauditError(f"{path}: [tool.qaudit] must be a table")
        return table
    return doc


TableMap = dict[str, dict[str, Any]]


def param_key(param: Any) -> str | None:
    """The config key of a Click parameter: an option's first long name without dashes, an argument's name
    (``model_path`` -> ``model``); None for hidden and eager parameters (``--help``)."""
    if getattr(param, "hidden", False) or getattr(param, "is_eager", False) or param.name is None:
        return None
    if param.param_type_name == "argument":
        return param.name.removesuffix("_path").replace("_", "-")
    longs = [o for o in param.opts if o.startswith("--")]
    return longs[0][2:] if longs else None


def command_keys(command: Any) -> dict[str, Any]:
    """``{key: Click parameter}`` of *command*: its schema (plural keys of repeatable options included)."""
    keys = {}
    for param in command.params:
        key = param_key(param)
        if key is not None:
            keys[key] = param
    for key, param in list(keys.items()):
        if getattr(param, "multiple", False) and plural(key) not in keys:
            keys[plural(key)] = param
    return keys


def plural(key: str) -> str:
    """``attack`` -> ``attacks``, ``forget-class`` -> ``forget-classes``: the list spelling of a repeatable
    option's key."""
    if key.endswith(("s", "x", "z", "ch", "sh")):
        return key + "es"
    if key.endswith("y") and key[-2:-1] not in "aeiou":
        return key[:-1] + "ies"
    return key + "s"


def default_map(group: Any, ctx: Any, start: str | os.PathLike[str] | None = None) -> TableMap | None:
    """Click's ``default_map`` for *group*'s commands from the nearest project config (None without one):
    ``{command: {param_name: value}}``, every table and key checked, values converted and paths resolved."""
    found = find_config(start)
    if found is None:
        return None
    path, table = found
    table = table or {}  # $QAUDIT_CONFIG naming a pyproject.toml without [tool.qaudit]
    commands = {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}
    schemas = {name: command_keys(cmd) for name, cmd in commands.items() if cmd is not None}
    shared = {_key(k): (k, v) for k, v in table.items() if not isinstance(v, dict)}
    result: TableMap = {}
    _check_shared(path, shared, schemas)
    for name, section in table.items():
        if isinstance(section, dict) and name not in schemas:
            hint = _closest(name, schemas) or " (is the plugin adding that command installed and enabled?)"
            raise QauditError(f"{path}: unknown table [{name}]: tables are named after commands{hint}")
    arguments = {k for keys in schemas.values() for k, p in keys.items() if p.param_type_name == "argument"}
    for name, keys in schemas.items():
        section = table.get(name, {})
        values: dict[str, Any] = {}
        for key, (written, value) in shared.items():
            param = keys.get(key)
            if param is not None and (param.param_type_name == "argument" or key not in arguments):
                values[param.name] = _convert(ctx, param, value, path, written, None)
        for written, value in section.items():
            param = keys.get(_key(written))
            if param is None:
                raise QauditError(f"{path}: unknown key {written!r} in [{name}]{_closest(_key(written), keys)}")
            values[param.name] = _convert(ctx, param, value, path, written, name)
        if values:
            result[name] = values
    return result


def _key(written: Any) -> str:
    return str(written).replace("_", "-")


def _closest(key: str, valid: Any) -> str:
    import difflib

    match = difflib.get_close_matches(key, sorted(valid), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _check_shared(path: Path, shared: dict[str, tuple[str, Any]], schemas: dict[str, dict[str, Any]]) -> None:
    """Every top-level key must be a parameter of at least one command."""
    every = {k for keys in schemas.values() for k in keys}
    for key, (written, _) in shared.items():
        if key not in every:
            raise QauditError(f"{path}: unknown top-level key {written!r}: no command has it{_closest(key, every)}")


#: JSON types a config value may have, by the parameter's value type (others: left to the parameter).
_KINDS: dict[str, tuple[type, ...]] = {
    "int": (int,), "float": (int, float), "bool": (bool,), "str": (str, int, float), "path": (str,)}
_NAMES = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
          "path": "a path (a string)"}
#: Metavars that mark a text option as a path (resolved relative to the config file).
PATH_METAVARS = ("PATH", "FILE", "DIR")


def value_kind(param: Any) -> str:
    """``int``, ``float``, ``bool``, ``str``, ``path`` or ``other``: what one value of *param* is (from Typer's
    annotation, else Click's type); a text option whose metavar is PATH, FILE or DIR is a path."""
    import typing

    kind = "other"
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if annotation is not None:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        while typing.get_origin(annotation) is not None and args:  # Optional[X], list[X]
            annotation = args[0]
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
        kind = {int: "int", float: "float", bool: "bool", str: "str"}.get(annotation, "other")
        if isinstance(annotation, type) and issubclass(annotation, os.PathLike):
            kind = "path"
    elif getattr(param, "type", None) is not None:
        kind = {"integer": "int", "float": "float", "boolean": "bool", "text": "str", "path": "path"}.get(
            getattr(param.type, "name", ""), "other")
    if kind == "str" and str(getattr(param, "metavar", "") or "").upper() in PATH_METAVARS:
        kind = "path"
    return kind


def _convert(ctx: Any, param: Any, value: Any, path: Path, key: str, table: str | None) -> Any:
    """*value* from the config as *param*'s default: type-checked, checked by the parameter's own conversion,
    a relative path made relative to the config file's folder."""
    where = f"{path}: {f'[{table}] ' if table else ''}{key!r}"
    kind = value_kind(param)
    if isinstance(value, dict) and param.multiple:  # a table for a repeatable KEY=VALUE option
        import json

        value = [f"{k}={json.dumps(v)}" for k, v in value.items()]
    if param.multiple or param.nargs != 1:
        items = value if isinstance(value, list) else [value]
        value = [_scalar(param, kind, item, path, where) for item in items]
    elif isinstance(value, list) and kind == "str":  # a comma-separated list option
        value = ",".join(_scalar(param, kind, item, path, where) for item in value)
    else:
        value = _scalar(param, kind, value, path, where)
    try:
        param.process_value(ctx, value)
    except Exception as exc:  # click's BadParameter (Typer may vendor click, so caught by behaviour)
        message = getattr(exc, "message", None) or str(exc)
        raise QauditError(f"{where}: {' '.join(str(message).split())}") from None
    return value


def _scalar(param: Any, kind: str, value: Any, path: Path, where: str) -> Any:
    from qaudit.sdk.limits import shown

    kinds = _KINDS.get(kind)
    wrong = kinds is not None and (not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds))
    if wrong or isinstance(value, (dict, list)):
        what = _NAMES.get(kind, "a single value")
        raise QauditError(f"{where} must be {what}{' or a list of them' if param.multiple else ''}, got "
                          f"{shown(value)}")
    if kind == "path":
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else path.parent / p)
    return str(value) if kind == "str" else value
