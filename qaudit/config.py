"""Project configuration: ``qaudit.toml`` or ``[tool.qaudit]`` in ``pyproject.toml``.

The nearest file found walking up from the working directory wins
(``qaudit.toml`` before ``pyproject.toml`` in the same folder). Layout::

    # qaudit.toml  (in pyproject.toml the same keys live under [tool.qaudit])
    model = "model.json"          # top-level keys are shared by every command
    data-dir = "data/mnist"
    scheduler = "tcp://10.0.0.5:8786"   # Dask scheduler for batches of jobs (docs/cluster.md)
    executor = "dask"                   # serial | local | dask (`qaudit executors`)

    [leak]                        # one table per command
    attacks = ["gray-box", "loss", "confidence"]
    shots = 1024
    fail-above = "auc=0.6,tpr@1%fpr=0.05,advantage=0.1"

    [unlearn]
    method = "sisa"
    forget-class = 4

``load_config("leak")`` returns the shared keys overlaid with the ``[leak]``
table, keys normalised to snake_case, relative paths kept as written plus
``_dir`` (the config file's folder) so commands can resolve them with
:func:`resolve_path`. Command-line flags always override the config.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from qaudit.errors import QauditError

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
    from qaudit.io import MAX_TOML_DEPTH, read_text_limited, toml_depth

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


def _norm(table: dict[str, Any]) -> dict[str, Any]:
    return {str(k).replace("-", "_"): v for k, v in table.items()}


def load_config(command_name: str, start: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Settings for *command_name*: shared top-level keys overlaid with its table.

    Returns ``{}`` when there is no project config. Adds ``_file`` and ``_dir``
    (strings) when there is one.
    """
    found = find_config(start)
    if found is None:
        return {}
    path, table = found
    shared = {k: v for k, v in table.items() if not isinstance(v, dict)}
    section = table.get(command_name, {})
    if not isinstance(section, dict):
        raise QauditError(f"{path}: [{command_name}] must be a table")
    settings = {**_norm(shared), **_norm(section)}
    settings["_file"] = str(path)
    settings["_dir"] = str(path.parent)
    return settings


def resolve_path(config: dict[str, Any], value: str | None) -> str | None:
    """A path from the config, made relative to the config file's folder."""
    if value is None:
        return None
    p = Path(str(value)).expanduser()
    if p.is_absolute() or "_dir" not in config:
        return str(p)
    return str(Path(config["_dir"]) / p)


def pick(flag: Any, config: dict[str, Any], key: str, default: Any = None, kind: type | None = None) -> Any:
    """Flag value if given (not None), else the config's *key*, else *default*.

    With *kind* the config value is type-checked (one-line error naming the key).
    """
    if flag is not None:
        return flag
    if key not in config:
        return default
    value = config[key]
    if kind is not None:
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            ok, value = True, float(value)
        if not ok:
            raise QauditError(f"{config.get('_file', 'config')}: '{key}' must be {kind.__name__}, got {value!r}")
    return value
