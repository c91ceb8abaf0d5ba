# %% [markdown]
# # qaudit from Python
#
# The same pipeline as `qaudit train`, `qaudit leak`, `qaudit leak --outputs`, `qaudit unlearn` and
# `qaudit shots`, as function calls that return the reports the command line renders. Run it as a script
# (`python examples/python_api.py`, about 30 s on 2 cores) or open it as a notebook (the `# %%` cells work
# in Jupyter, VS Code and jupytext); in a notebook a report displays itself as HTML with its ROC curves.
# See docs/python-api.md.

# %%
import tempfile
from pathlib import Path

from rich import print as rprint

from qaudit import api
from qaudit.api import AuditSettings, ShotSettings

work = Path(tempfile.mkdtemp(prefix="qaudit-api-"))

# %% [markdown]
# ## Train a small QNN on the embedded digits data

# %%
digits = api.load_dataset("digits")
model = api.train("basic-qnn", digits, n_train=200, n_holdout=200, seed=0,
                  options={"qubits": 4, "layers": 3, "epochs": 20}, out=work / "model.json")
print(model.kind, "trained on", len(model.data.members), "members; saved to", model.path)

# %% [markdown]
# ## Does it leak its training set?
#
# `audit` runs the attacks (cross-fitted, Holm-controlled verdict: docs/statistics.md) and returns a
# `Report`. `fail_above` gates it exactly as `--fail-above` does.

# %%
report = api.audit(model, settings=AuditSettings(attacks=["loss", "confidence", "gray-box"], seed=0),
                   fail_above="auc=0.75")
rprint(report)                       # in a notebook: just `report`
print(report.status, report.measurements["loss"]["auc"])

# %% [markdown]
# ## Outputs from elsewhere
#
# A model qaudit cannot run: audit the outputs it gave (docs/outputs-format.md). Every attack the file can
# serve runs; the others are listed with the reason.

# %%
outputs = Path(__file__).resolve().parent / "outputs" / "outputs.npz"
blackbox = api.audit_outputs(outputs, seed=0)
print(blackbox.verdict)
print("not run:", blackbox.payload["skipped_attacks"])

# %% [markdown]
# ## Make it forget digit 4, and check how finite shots change the leak metrics

# %%
forgotten = api.unlearn(model, "ssd", forget_class=[4], seed=0, out=work / "model.unlearned.json")
print(forgotten.verdict)
study = api.shots(model, settings=ShotSettings(shots=[64, 1024, None], repeats=2, attack="loss"))
print(study.verdict)

# %% [markdown]
# Every report renders in every installed format, as the command line writes it.

# %%
(work / "leak.html").write_text(report.render("html"), encoding="utf-8")
(work / "leak.sarif").write_text(report.render("sarif"), encoding="utf-8")
print("reports in", work)
