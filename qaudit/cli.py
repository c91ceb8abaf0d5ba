"""The ``qaudit`` command line. Subcommands parse arguments, call the core and hand
results to reporters; they hold no logic of their own."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from qaudit import __version__
from qaudit.errors import QauditError

app = typer.Typer(
    name="qaudit",
    help="Audit quantum neural networks for membership-privacy leakage and make them forget.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
err = Console(stderr=True)
out = Console()

DisableOpt = Annotated[
    list[str] | None,
    typer.Option("--disable-plugin", "-p", help="Do not load this plugin (repeatable; also $QAUDIT_DISABLE_PLUGINS)."),
]


def _version(value: bool) -> None:
    if value:
        print(f"qaudit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    disable_plugin: DisableOpt = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """qaudit: does my QNN leak who was in its training set, and can I make it forget?"""
    # --disable-plugin is applied before parsing, in main(), so plugin commands honour it.


def host() -> Any:
    from qaudit.plugins import get_host

    return get_host()


def command_line() -> str:
    return "qaudit " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values parsed as JSON when they parse, else kept as strings."""
    options: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise QauditError(f"--option expects KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        try:
            options[key.strip().replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip().replace("-", "_")] = value
    return options


def emit(text: str, output: Path | None) -> None:
    """Report to stdout, or atomically to *output*."""
    from qaudit.reporting import emit as emit_text

    emit_text(text, output)


def render_text(renderable: Any, width: int = 100) -> str:
    """Render a Rich object to plain text (for ``--output`` files)."""
    import io

    console = Console(file=io.StringIO(), width=width, record=True)
    console.print(renderable)
    return console.export_text()


# --------------------------------------------------------------------------- plugins
@app.command("plugins")
def plugins_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List installed plugins, their versions, what they register and load failures."""
    from rich.markup import escape

    doc = host().describe()
    if as_json:
        print(json.dumps(doc, indent=1))
        return
    from rich.table import Table

    table = Table(title=f"qaudit plugins (plugin API {doc['api_version']})")
    for col in ("plugin", "version", "distribution", "registers", "status"):
        table.add_column(col)
    for row in doc["plugins"]:
        regs = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(row["registers"].items()))
        status = {"ok": "[green]ok[/]", "disabled": "[dim]disabled[/]"}.get(row["status"], "[red]failed[/]")
        table.add_row(row["name"], row["version"], row["distribution"], escape(regs), status)
    out.print(table)
    for row in doc["plugins"]:
        if row["status"] == "failed":
            out.print(f"[red]failed[/] [bold]{escape(row['name'])}[/]: {escape(row['error'] or '')}", soft_wrap=True)
    for warning in doc["warnings"]:
        err.print(f"[yellow]warning:[/] {escape(warning)}")


def _list_kind(kind: str, title: str, as_json: bool, extra: Any = None) -> None:
    h = host()
    rows = []
    for name, entry in sorted(h.registry(kind).items()):
        row = {"name": name, "plugin": entry.plugin, "description": getattr(entry.obj, "description", "")}
        if extra:
            row.update(extra(entry.obj))
        rows.append(row)
    if as_json:
        print(json.dumps({"schema": f"qaudit.{kind}s/1", "items": rows}, indent=1))
        return
    from rich.table import Table

    table = Table(title=title)
    for col in rows[0].keys() if rows else ("name",):
        table.add_column(col)
    for row in rows:
        table.add_row(*[str(v) for v in row.values()])
    out.print(table)


@app.command("datasets")
def datasets_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List registered datasets."""
    _list_kind("dataset", "datasets", as_json)


@app.command("models")
def models_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List registered model kinds."""
    _list_kind("model", "model kinds", as_json)


# --------------------------------------------------------------------------- train
@app.command("train")
def train_cmd(
    model: Annotated[str | None, typer.Option(
        "--model", "-m", help="Model kind (see `qaudit models`; default: the plugins' default model).")] = None,
    dataset: Annotated[str | None, typer.Option(
        "--dataset", "-d", help="Dataset name or .csv/.npz path (default: the plugins' default dataset).")] = None,
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Model file to write.")] = Path("model.json"),
    data_dir: Annotated[str | None, typer.Option("--data-dir", help="Folder with MNIST IDX files.")] = None,
    label_column: Annotated[str | None, typer.Option(help="Label column of a CSV dataset.")] = None,
    n_train: Annotated[int | None, typer.Option("--n-train", help="Members (training samples).")] = None,
    n_holdout: Annotated[int | None, typer.Option("--n-holdout", help="Holdout (non-member) samples.")] = None,
    qubits: Annotated[int | None, typer.Option(help="Number of qubits.")] = None,
    layers: Annotated[int | None, typer.Option(help="Number of circuit layers.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs.")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Minibatch size.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the split, initialisation and shuffling.")] = 0,
    exclude_class: Annotated[list[int] | None, typer.Option(
        help="Train without this class (retrain oracle; repeatable).")] = None,
    exclude_indices: Annotated[str | None, typer.Option(
        help="Train without the sample indices in this file.")] = None,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-O", help="Model-specific option KEY=VALUE (repeatable; VALUE is JSON or a string), e.g. "
        "`--model sisa -O shards=4 -O slices=3 -O constituent=basic-qnn`.")] = None,
    noise: Annotated[str | None, typer.Option(
        help="Train under a noise model with exact noisy gradients: 'paper' or p1=..,p2=..,bitflip=..")] = None,
) -> None:
    """Train a QNN and save it as a validated model file."""
    from qaudit import model as model_io
    from qaudit.data import load_dataset
    from qaudit.plugins import get_host
    from qaudit.progress import RichProgress
    from qaudit.workflows import train_model

    model = model or get_host().role("model", "default")
    dataset = dataset or get_host().role("dataset", "default")

    out_dir = out_path.parent if str(out_path.parent) else Path(".")
    if not out_dir.is_dir():  # fail before training, not after it
        raise QauditError(f"output directory does not exist: {out_dir}")
    opts = parse_options(option)
    for key, value in (("qubits", qubits), ("layers", layers), ("epochs", epochs), ("lr", lr),
                       ("batch_size", batch_size), ("noise", noise)):
        if value is not None:
            opts[key] = value
    data_opts = {k: v for k, v in (("data_dir", data_dir), ("label_column", label_column)) if v}
    ds = load_dataset(dataset, data_opts)
    with RichProgress(err) as progress:
        mf = train_model(model, ds, n_train=n_train, n_holdout=n_holdout, seed=seed, options=opts,
                         exclude_class=exclude_class, exclude_indices=exclude_indices, progress=progress)
    model_io.save(mf, out_path, command=command_line())
    from qaudit.workflows import evaluate_model

    mf.path = str(out_path)
    ev = evaluate_model(mf, ds)
    accs = ", ".join(f"{k} accuracy {v['accuracy']:.3f}" for k, v in ev.splits.items())
    err.print(f"[bold green]trained[/] {model} on {ds.name} ({len(mf.data.members)} members, "
              f"{len(mf.data.holdout)} holdout) in {mf.training['seconds']:.1f} s: {accs}")
    err.print(f"wrote {out_path}")


# --------------------------------------------------------------------------- evaluate
@app.command("evaluate")
def evaluate_cmd(
    model_path: Annotated[Path, typer.Argument(help="Model file.")],
    data_dir: Annotated[str | None, typer.Option("--data-dir")] = None,
    backend: Annotated[str | None, typer.Option(
        help="Execution backend (see `qaudit backends`; default: exact, or the shot backend with --shots).")] = None,
    shots: Annotated[int | None, typer.Option(help="Measurement shots (0 or omitted = exact).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for shot sampling.")] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    output: Annotated[Path | None, typer.Option("--output", help="Write the report here (atomic).")] = None,
) -> None:
    """Accuracy of a model on its members and holdout, overall and per class."""
    from qaudit import model as model_io
    from qaudit.backends import default_backend, resolve_backend
    from qaudit.workflows import dataset_for, evaluate_model

    mf = model_io.load(model_path)
    ds = dataset_for(mf, data_dir)
    backend = backend or default_backend(shots)
    be, shots = resolve_backend(backend, shots, mf.model)
    ev = evaluate_model(mf, ds, be, backend, shots, seed)
    if as_json:
        emit(json.dumps(ev.to_json(), indent=1), output)
        return
    from rich.table import Table

    noise = f"{shots} shots" if shots else "no shot noise"
    table = Table(title=f"{model_path} ({mf.kind}, backend {backend}, {noise})")
    table.add_column("class")
    for name in ev.splits:
        table.add_column(f"{name} acc")
    classes = sorted({c for s in ev.splits.values() for c in s["per_class"]}, key=int)
    for c in classes:
        table.add_row(c, *[f"{s['per_class'][c]['accuracy']:.3f}" if c in s["per_class"] else "-"
                           for s in ev.splits.values()])
    table.add_row("[bold]all", *[f"[bold]{s['accuracy']:.3f}" for s in ev.splits.values()])
    if output:
        emit(render_text(table), output)
    else:
        out.print(table)


def _load_command_modules() -> None:
    import importlib
    import importlib.util

    from qaudit.commands import MODULES

    for name in MODULES:
        module = f"qaudit.commands.{name}"
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


_load_command_modules()


def main() -> None:
    """Console entry point: one-line errors with exit code 2, never a traceback."""
    try:
        _register_plugin_commands()
        app(standalone_mode=True)
    except QauditError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("[red]interrupted[/]")
        sys.exit(130)


def _register_plugin_commands() -> None:
    """Plugins add subcommands before parsing (honours --disable-plugin / env)."""
    from qaudit import plugins

    plugins.configure(disabled=plugins.disabled_from_argv(sys.argv[1:])).commands(app)


if __name__ == "__main__":
    main()
