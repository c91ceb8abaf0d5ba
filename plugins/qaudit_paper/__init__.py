"""The paper's experiments and the demo: ``qaudit reproduce`` and ``qaudit demo``.

Registered through the ``qaudit`` entry-point group exactly like a third-party
plugin, and adds its commands with the ``register_commands`` hook. Only the
host's public workflow functions are used; heavy imports happen inside the
command functions so ``qaudit --help`` stays fast.
"""

from pathlib import Path
from typing import Annotated, Any

from qaudit.sdk import hookimpl

QAUDIT_API = "2"


@hookimpl
def register_commands(app: Any) -> None:
    import typer  # annotations are evaluated here (no ``from __future__ import annotations``), not at import

    @app.command("demo")
    def demo_cmd(
        out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for the demo's model files.")] = Path(
            "qaudit-demo"),
        seed: Annotated[int, typer.Option()] = 0,
        parents: Annotated[bool, typer.Option("--parents", help="Create missing parent folders of --out-dir.")
                           ] = False,
    ) -> None:
        """Run the whole pipeline on scikit-learn's bundled digits (no download, about a minute)."""
        from qaudit.sdk import make_out_dir
        from qaudit.sdk.workflows import err, out
        from qaudit_paper.demo import run_demo

        make_out_dir(out_dir, parents)
        run_demo(out_dir, seed, err, out)

    @app.command("reproduce")
    def reproduce_cmd(
        data_dir: Annotated[str | None, typer.Option(
            "--data-dir", metavar="DIR", help="Folder with the MNIST test-set IDX files (t10k-images/labels, .gz or "
            "not).")] = None,
        out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for report.md/html/json and model files.")
                           ] = Path("paper-reproduction"),
        seed: Annotated[int, typer.Option(help="Seed of the split, training, attacks and unlearning.")] = 0,
        repeats: Annotated[int | None, typer.Option("--repeats", "-R", help="Shot-study repeats (default 3).")
                           ] = None,
        shots: Annotated[str | None, typer.Option(help="Shot-study shot counts (default 16,256,4096,exact).")
                         ] = None,
        quick: Annotated[bool, typer.Option(
            "--quick", help="Tiny settings on the embedded digits data (or MNIST with --data-dir): wiring check "
            "only, not the paper's settings.")] = False,
        parents: Annotated[bool, typer.Option("--parents", help="Create missing parent folders of --out-dir.")
                           ] = False,
        jobs: Annotated[int | None, typer.Option(
            "--jobs", "-j", help="Worker processes for the independent trainings and stages (default: the "
            "machine's cores; 1 = one after another in this process). The report is the same either way.")] = None,
        executor: Annotated[str | None, typer.Option(
            "--executor", help="Where the stages run: see `qaudit executors` (default: worker processes on this "
            "machine).")] = None,
        no_cache: Annotated[bool, typer.Option(
            "--no-cache", help="Neither read nor write the content-addressed caches of trained models and stage "
            "results ($QAUDIT_CACHE_DIR/reproduce; QAUDIT_CACHE_DIR=off does the same).")] = False,
        device: Annotated[list[str] | None, typer.Option(
            "--device", metavar="BACKEND", help="Also run the paper's device experiment on BACKEND (e.g. "
            "ibm-fake:FakeSherbrooke; repeatable): a small leaking basic QNN audited before and after unlearning, "
            "exact beside the device (docs/hardware.md). Off by default.")] = None,
        device_options: Annotated[str | None, typer.Option(
            "--device-options", metavar="KEY=N,...", help="The device experiment's size: members, holdout, qubits, "
            "layers, epochs, shots (default members=60,holdout=140,qubits=6,layers=8,epochs=200,shots=1024), and "
            "max_qpu_seconds (each device audit refused before submission above it; for hardware).")
                                  ] = None,
        device_only: Annotated[bool, typer.Option(
            "--device-only", help="Run only the device experiment (no MNIST needed).")] = False,
    ) -> None:
        """Run the paper's experiments (basic QNN + HQNN on MNIST) and report them beside the paper's claims."""
        from contextlib import closing

        from qaudit.sdk import RichProgress, check_jobs, make_out_dir, open_executor, scheduler_from_env
        from qaudit.sdk.workflows import command_line, err, parse_shots, repeat_seeds
        from qaudit_paper.reproduce import ReproduceConfig, check_mnist, device_config, run, write_outputs

        settings = device_config(device, device_options, device_only, quick)
        if device_only:
            config = ReproduceConfig.device_only(settings)
        elif quick:
            config = ReproduceConfig.quick(data_dir, "mnist" if data_dir else "digits")
        else:
            config = ReproduceConfig(data_dir=check_mnist(data_dir))
        config.device = settings
        config.seed = seed
        if shots is not None:
            config.shots = parse_shots(shots)
        if repeats is not None:
            repeat_seeds(seed, repeats)
            config.repeats = repeats
        if jobs is not None:
            check_jobs(jobs)
        make_out_dir(out_dir, parents)
        with closing(open_executor(executor, scheduler_from_env(), jobs)) as ex, \
                RichProgress(err) as progress:
            report = run(config, out_dir, command=command_line(), progress=progress,
                         say=lambda text: err.print(f"[bold]reproduce[/] {text}", highlight=False), executor=ex,
                         use_cache=not no_cache)
        paths = write_outputs(report, out_dir)
        err.print(report.verdict, highlight=False, soft_wrap=True, markup=False)
        for backend, sentence in report.summary.get("device_noise", {}).items():
            err.print(f"device {backend}: {sentence}", highlight=False, soft_wrap=True, markup=False)
        for p in paths:
            err.print(f"wrote {p}", highlight=False, markup=False)
