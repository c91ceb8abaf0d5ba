"""``qaudit import``: convert a model trained in another framework into a verified qaudit model file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qaudit.cli.commands.common import NoReportOpt, command_line, err, parse_options, refuse_output
from qaudit.sdk.errors import QauditError

HELP = "\n\n".join([
    "Import a QNN trained in another framework (see `qaudit plugins`, kind importer), verified.",
    "IMPORTANT: importing RUNS YOUR OWN CODE -- the Python file named in SOURCE is executed to build the model "
    "(that is what an import is for); import only code you trust. The model file written is data only and loads "
    "with no code, like every qaudit model file.",
    "Before anything is written, qaudit's class probabilities must equal the source framework's on the data to "
    "1e-8 (float64), else the import fails naming the largest difference and where it occurs. Reference and "
    "shadow models of attacks (LiRA, RMIA, shadow) are later trained by qaudit's engine with the recipe given "
    "here (--optimizer, --epochs, --lr, --batch-size, --momentum, --nesterov, --seed), recorded in the model file "
    "and in every leak report.",
    "Examples:",
    "qaudit import pennylane model.py:model --weights weights.pt -d data.npz --members members.txt --out m.json",
    "qaudit import qiskit circuit.qpy --input-params x --weight-params theta --weights w.npy "
    "--observables ZZII,IIZZ -d data.npz --members members.txt --out m.json",
])


def import_cmd(
    importer: Annotated[str, typer.Argument(help="Importer name (`qaudit plugins`).", show_default=False)],
    source: Annotated[str, typer.Argument(help="What to import: path/file.py:attribute, or a circuit file.",
                                          show_default=False)],
    weights: Annotated[str | None, typer.Option(
        "--weights", "-w", metavar="FILE", help="Trained weights (a state_dict .pt or .npy/.npz file).")] = None,
    dataset: Annotated[str, typer.Option(
        "--dataset", "-d", help="The model's data: dataset name or .csv/.npz path whose rows are the model's "
        "raw inputs.")] = "",
    members: Annotated[str, typer.Option(
        "--members", metavar="FILE", help="File of the training samples' indices into the data (the model's "
        "members).")] = "",
    holdout: Annotated[str | None, typer.Option(
        "--holdout", metavar="FILE", help="File of indices the model never saw (default: every other sample).")] = None,
    input_params: Annotated[str | None, typer.Option(
        "--input-params", help="Circuit importers: comma-separated input parameters (or parameter-vector "
        "names), in input order.")] = None,
    weight_params: Annotated[str | None, typer.Option(
        "--weight-params", help="Circuit importers: comma-separated trainable parameters, in weight order.")] = None,
    observables: Annotated[str | None, typer.Option(
        "--observables", help="Circuit importers: comma-separated Pauli strings, one per output.")] = None,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-O", help="Importer-specific option KEY=VALUE (repeatable).")] = None,
    optimizer: Annotated[str, typer.Option(help="Recipe: optimizer, sgd (momentum, Nesterov) or adam (PyTorch's "
                                           "Adam: betas 0.9, 0.999, eps 1e-8).")] = "sgd",
    epochs: Annotated[int, typer.Option(help="Recipe: epochs of reference/shadow-model training.")] = 10,
    lr: Annotated[float | None, typer.Option(help="Recipe: learning rate (default 0.05 with sgd, 0.01 with "
                                             "adam).", show_default=False)] = None,
    batch_size: Annotated[int, typer.Option(help="Recipe: minibatch size.")] = 32,
    momentum: Annotated[float | None, typer.Option(help="Recipe: SGD momentum (default 0.9).",
                                                   show_default=False)] = None,
    nesterov: Annotated[bool | None, typer.Option("--nesterov/--no-nesterov", help="Recipe: Nesterov momentum "
                                                  "(SGD; default on).", show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Recipe seed (reference models) and the check subset's seed.")] = 0,
    check_samples: Annotated[int | None, typer.Option(
        "--check-samples", help="Check fidelity on this many samples (seeded subset; default: all).")] = None,
    out_path: Annotated[Path, typer.Option("--out", help="Model file to write.")] = Path("model.json"),
    output: NoReportOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --out file.")] = False,
) -> None:
    from qaudit import api
    from qaudit.report.destinations import check_outputs
    from qaudit.sdk.limits import check_option, check_seed

    refuse_output(output, "import")
    if not dataset or not members:
        raise QauditError("qaudit import needs the model's data: --dataset DATA --members FILE (the training "
                          "samples' indices); the import is checked on it and audits use it")
    if out_path.exists() and not force:
        raise QauditError(f"{out_path} already exists; pass --force to overwrite it")
    check_seed(seed)
    recipe = _recipe(optimizer, epochs, lr, batch_size, momentum, nesterov, seed)
    source_file = source.rsplit(":", 1)[0] if ":" in Path(source).name else source
    dataset_file = dataset if Path(dataset).suffix else None
    check_outputs({"--out": out_path}, {"source": source_file, "--weights file": weights,
                                        "dataset file": dataset_file, "--members file": members,
                                        "--holdout file": holdout})
    options = parse_options(option)
    for key, value in (("input_params", input_params), ("weight_params", weight_params),
                       ("observables", observables)):
        if value is not None:
            options[key] = value
    if check_samples is not None:
        check_option("--check-samples", check_samples, "int", 1, None)
    with err.status(f"importing {source} and checking it against its framework"):
        mf = api.import_model(importer, source, dataset=dataset, members=members, holdout=holdout, weights=weights,
                              options=options, recipe=recipe, seed=seed, check_samples=check_samples,
                              out=out_path, command=command_line())
    info = mf.provenance["import"]
    fidelity = info["fidelity"]
    err.print(f"imported {source} ({info['framework']} {info['version']}): max |Δp| = "
              f"{fidelity['max_abs_diff']:.2e} over {fidelity['n_samples']} samples (tolerance 1e-8)", markup=False,
              highlight=False)
    err.print(f"wrote {out_path}", markup=False, highlight=False)


def _recipe(optimizer: str, epochs: int, lr: float | None, batch_size: int, momentum: float | None,
            nesterov: bool | None, seed: int) -> dict:
    """The reference-model training recipe from the options, checked (one-line errors)."""
    from qaudit.sdk.limits import MAX_BATCH_SIZE, MAX_EPOCHS, MAX_LR, check_option
    from qaudit.train.training import OPTIMIZERS, Adam

    if optimizer not in OPTIMIZERS:
        raise QauditError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    if optimizer != "sgd" and (momentum is not None or nesterov is not None):
        raise QauditError(f"--momentum and --nesterov apply to --optimizer sgd, not {optimizer}")
    default_lr = 0.05 if optimizer == "sgd" else 0.01
    recipe = {"optimizer": optimizer, "epochs": check_option("--epochs", epochs, "int", 0, MAX_EPOCHS),
              "lr": check_option("--lr", default_lr if lr is None else lr, "float", 0.0, MAX_LR, low_open=True),
              "batch_size": check_option("--batch-size", batch_size, "int", 1, MAX_BATCH_SIZE), "seed": seed}
    if optimizer == "sgd":
        recipe.update(momentum=check_option("--momentum", 0.9 if momentum is None else momentum, "float", 0.0, 0.999),
                      nesterov=True if nesterov is None else bool(nesterov))
    else:
        recipe.update(Adam(lr=recipe["lr"]).settings())
    return recipe


def register_commands(app: typer.Typer) -> None:
    """Add ``qaudit import`` (the same hook signature a plugin's ``register_commands`` has)."""
    app.command("import", help=HELP)(import_cmd)
