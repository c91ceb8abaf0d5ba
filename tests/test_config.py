"""``qaudit.toml``: the commands' own options are the schema, values arrive as Click defaults (flags win), and
mistakes are one-line errors naming the key, the table and the closest valid key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from conftest import one_line_error

from qaudit.cli import app as cli
from qaudit.cli.config import default_map, find_config
from qaudit.sdk.errors import QauditError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.delenv("QAUDIT_CONFIG", raising=False)
    monkeypatch.delenv("QAUDIT_SCHEDULER", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _defaults(start: Path) -> dict:
    group = typer.main.get_command(cli.app)
    return default_map(group, group.make_context("qaudit", [], resilient_parsing=True), start)


def test_nearest_file_wins_and_qaudit_toml_before_pyproject(folder, monkeypatch):
    sub = folder / "a" / "b"
    sub.mkdir(parents=True)
    (folder / "pyproject.toml").write_text('[tool.qaudit]\nmodel = "py.json"\n[tool.qaudit.leak]\nshots = 64\n')
    assert find_config(sub)[0] == folder / "pyproject.toml"
    assert _defaults(sub)["leak"]["shots"] == 64
    (folder / "a" / "qaudit.toml").write_text('model = "m.json"\n')
    assert find_config(sub)[0] == folder / "a" / "qaudit.toml"
    (folder / "a" / "qaudit.toml").write_text("model = \n")
    with pytest.raises(QauditError, match="invalid TOML"):
        find_config(sub)
    monkeypatch.setenv("QAUDIT_CONFIG", str(folder / "pyproject.toml"))
    assert find_config(sub)[0] == folder / "pyproject.toml"


def test_values_become_the_commands_defaults(folder):
    (folder / "qaudit.toml").write_text(
        'model = "models/m.json"\ndata-dir = "data"\nexecutor = "serial"\n'
        '[leak]\nattacks = ["loss", "rmia"]\nslice = "class"\nfail_above = "auc=0.6"\nshots = 64\nfast = false\n'
        '[leak.attack-options]\n"rmia.gamma" = 2.0\n'
        '[unlearn]\nmethod = "rga"\nforget-class = 4\n'
        '[compare-unlearning]\nseeds = [0, 1]\nmethods = ["ga", "rga"]\n'
        '[train]\nmodel = "hqnn"\nepochs = 3\n')
    dm = _defaults(folder)
    leak = dm["leak"]
    assert leak["model_path"] == str(folder / "models" / "m.json")  # relative to the config file
    assert leak["data_dir"] == str(folder / "data") and leak["executor"] == "serial"
    assert leak["attack"] == ["loss", "rmia"] and leak["slice_"] == ["class"] and leak["shots"] == 64
    assert leak["fail_above"] == "auc=0.6" and leak["attack_option"] == ['rmia.gamma=2.0']
    assert dm["unlearn"]["method"] == "rga" and dm["unlearn"]["forget_class"] == [4]
    assert dm["compare-unlearning"]["seeds"] == "0,1" and dm["compare-unlearning"]["methods"] == "ga,rga"
    # the shared `model` (a file) fills MODEL arguments only, never train's --model (a kind)
    assert dm["train"] == {"model": "hqnn", "epochs": 3, "data_dir": str(folder / "data")}
    assert dm["evaluate"]["model_path"] == str(folder / "models" / "m.json")


@pytest.mark.parametrize("text, fragment", [
    ('[leak]\natacks = ["loss"]\n', "unknown key 'atacks' in [leak] (did you mean 'attacks'?)"),
    ('[unlearn]\nmehtod = "rga"\n', "unknown key 'mehtod' in [unlearn] (did you mean 'method'?)"),
    ('[laek]\nshots = 4\n', "unknown table [laek]: tables are named after commands (did you mean 'leak'?)"),
    ('modle = "m.json"\n', "unknown top-level key 'modle': no command has it (did you mean 'model'?)"),
    ('[leak]\nshots = "many"\n', "[leak] 'shots' must be an integer, got 'many'"),
    ('[leak]\nshots = true\n', "[leak] 'shots' must be an integer, got True"),
    ('[leak]\nalpha = "x"\n', "[leak] 'alpha' must be a number"),
    ('[leak]\nattacks = [true]\n', "[leak] 'attacks' must be a string or a list of them, got True"),
    ('[unlearn]\nforget-gate = "yes"\n', "[unlearn] 'forget-gate' must be true or false"),
    ('[unlearn]\nforget-class = ["four"]\n', "[unlearn] 'forget-class' must be an integer or a list of them"),
    ('[train]\nmodel = 3\nout = 4\n', "[train] 'out' must be a path (a string), got 4"),
    ('[demo]\nseed = "x"\n', "[demo] 'seed' must be an integer"),  # a plugin command, checked the same way
])
def test_mistakes_are_one_line_errors_naming_the_key(folder, run_qaudit, text, fragment):
    (folder / "qaudit.toml").write_text(text)
    code, _, err = run_qaudit(["evaluate", "model.json"])
    assert code == 2
    line = one_line_error(err)
    assert fragment in line and str(folder / "qaudit.toml") in line, line


def test_help_works_with_a_broken_config(folder, run_qaudit):
    (folder / "qaudit.toml").write_text('[leak]\natacks = ["loss"]\n')
    code, out, _ = run_qaudit(["leak", "--help"])
    assert code == 0 and "--attack" in out


def test_a_flag_overrides_the_config_and_the_config_overrides_the_default(folder, run_qaudit, tiny_model):
    (folder / "qaudit.toml").write_text(f'model = "{tiny_model.path.as_posix()}"\n[evaluate]\nshots = 64\n'
                                        'json = true\n')
    code, out, err = run_qaudit(["evaluate"])
    assert code == 0, err
    assert json.loads(out)["shots"] == 64
    code, out, err = run_qaudit(["evaluate", "--shots", "0"])
    assert code == 0, err
    assert json.loads(out)["shots"] in (0, None)


def test_environment_beats_config_for_the_scheduler(folder, monkeypatch):
    (folder / "qaudit.toml").write_text('scheduler = "tcp://config:8786"\n')
    group = typer.main.get_command(cli.app)
    ctx = group.make_context("qaudit", [], resilient_parsing=True)
    ctx.default_map = default_map(group, ctx, folder)
    leak = group.get_command(ctx, "leak")
    monkeypatch.setenv("QAUDIT_SCHEDULER", "tcp://env:8786")
    sub = leak.make_context("leak", ["m.json"], parent=ctx)
    assert sub.params["scheduler"] == "tcp://env:8786"
    monkeypatch.delenv("QAUDIT_SCHEDULER")
    sub = leak.make_context("leak", ["m.json"], parent=ctx)
    assert sub.params["scheduler"] == "tcp://config:8786"
    sub = leak.make_context("leak", ["m.json", "--scheduler", "tcp://flag:8786"], parent=ctx)
    assert sub.params["scheduler"] == "tcp://flag:8786"


def test_example_ci_config_is_valid(folder, monkeypatch):
    example = ROOT / "examples" / "ci" / "qaudit.toml"
    if not example.exists():
        pytest.skip("examples/ci not present")
    monkeypatch.setenv("QAUDIT_CONFIG", str(example))
    dm = _defaults(folder)
    assert dm["leak"]["model_path"] == str(example.parent / "models" / "model.json") and dm["leak"]["shots"] == 1024
    assert dm["unlearn"]["method"] == "sisa" and dm["unlearn"]["forget_class"] == [4]
    workflow = (example.parent / "privacy-audit.yml").read_text()
    assert "upload-sarif" in workflow and "qaudit leak --format sarif" in workflow


def test_the_key_reference_in_the_docs_matches_the_options():
    from qaudit.cli import config_docs

    group, ctx = config_docs.root_command()
    text = config_docs.DOC.read_text(encoding="utf-8")
    assert config_docs.current(text) == config_docs.reference(group, ctx).strip("\n"), (
        "docs/config.md is stale: run `python -m qaudit.cli.config_docs --write`")
    for name in ("leak", "unlearn", "train", "evaluate", "shots", "audit-dp", "compare-unlearning", "reproduce"):
        assert f"### `[{name}]`" in text


def test_config_values_for_a_model_audit_do_not_block_leak_outputs(folder, run_qaudit):
    """`model`, `data-dir` and `shots` in the config are for model audits; `leak --outputs FILE` ignores them
    (on the command line they are refused: they do not apply to recorded outputs)."""
    example = ROOT / "examples" / "outputs" / "outputs.npz"
    if not example.exists():
        pytest.skip("examples/outputs/outputs.npz not present")
    (folder / "qaudit.toml").write_text('model = "m.json"\ndata-dir = "data"\n[leak]\nshots = 64\n'
                                        'attacks = ["loss"]\nbootstrap = 10\n')
    code, out, err = run_qaudit(["leak", "--outputs", str(example), "-f", "json"])
    assert code in (0, 1), err
    assert list(json.loads(out)["attacks"]) == ["loss"]  # the config's attacks still apply
    code, _, err = run_qaudit(["leak", "--outputs", str(example), "--shots", "64"])
    assert code == 2 and "--shots does not apply to --outputs" in one_line_error(err)


@pytest.mark.parametrize("doc, heading", [("README.md", "## Flags and project configuration"),
                                          ("docs/config.md", "# Configuration")])
def test_the_documented_examples_are_valid_configs(folder, doc, heading):
    import re

    section = (ROOT / doc).read_text(encoding="utf-8").split(heading, 1)[1]
    example = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    (folder / "qaudit.toml").write_text(example)
    dm = _defaults(folder)
    assert dm["unlearn"]["method"] == "rga" and dm["unlearn"]["forget_class"] == [4]
    assert dm["leak"]["model_path"] == str(folder / "models" / "model.json")


def test_leak_option_defaults_are_the_settings_defaults():
    """The literal defaults `qaudit leak` declares (what --help and docs/config.md show) are AuditSettings' own, so
    the CLI and the API (which leaves them to AuditSettings) cannot drift apart."""
    import inspect

    from qaudit.cli.commands.leak import leak_cmd
    from qaudit.leak.audit import AuditSettings

    declared = {name: p.default for name, p in inspect.signature(leak_cmd).parameters.items()}
    settings = AuditSettings()
    for option, field in {"folds": "folds", "alpha": "alpha", "delta": "delta", "bootstrap": "n_bootstrap",
                          "seed": "seed", "top_k": "top_k"}.items():
        assert declared[option] == getattr(settings, field), option
