"""Shot-study settings: shot lists, repeat seeds and the settings object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qaudit.sdk.errors import QauditError

SCHEMA = "qaudit.shots/1"


DEFAULT_SHOTS = "16,64,256,1024,4096,exact"


DEFAULT_REPEATS = 5


#: Leak metrics aggregated per shot count (``member_rate`` = the paper's MIA accuracy).
LEAK_METRICS = ("auc", "auc_low", "auc_high", "tpr@0.1%fpr", "tpr@1%fpr", "tpr@10%fpr", "advantage",
                "member_rate")


#: Unlearning metrics aggregated per shot count.
UNLEARN_METRICS = ("forget_accuracy", "retain_accuracy", "holdout_accuracy", "forget_mia_before", "forget_mia",
                   "forget_mia_auc", "forget_accuracy_exact", "retain_accuracy_exact", "seconds")


EXACT_WORDS = ("exact", "inf", "infinite")


# --------------------------------------------------------------------------- input checks
def parse_shots(text: str) -> list[int | None]:
    """``"16,64,exact"`` -> ``[16, 64, None]``; strictly increasing positive counts, ``exact`` last."""
    from qaudit.sdk.limits import MAX_SHOT_COUNTS

    parts = [p.strip().lower() for p in str(text).split(",")]
    if not text or not str(text).strip() or any(not p for p in parts):
        raise QauditError(f"--shots {text!r}: expected comma-separated shot counts, e.g. {DEFAULT_SHOTS}")
    if len(parts) > MAX_SHOT_COUNTS:
        raise QauditError(f"--shots lists {len(parts)} entries; at most {MAX_SHOT_COUNTS} are allowed "
                          "(every entry is a full audit per repeat)")
    out: list[int | None] = []
    for i, part in enumerate(parts):
        if part in EXACT_WORDS:
            if i != len(parts) - 1:
                raise QauditError(f"--shots {text!r}: 'exact' (infinitely many shots) must come last")
            out.append(None)
            continue
        try:
            value = int(part)
        except ValueError:
            raise QauditError(f"--shots {text!r}: {part!r} is neither a shot count nor 'exact'") from None
        if value <= 0:
            raise QauditError(f"--shots {text!r}: shot counts must be positive (write 'exact' for no shot noise)")
        out.append(value)
    finite = [s for s in out if s is not None]
    if len(set(finite)) != len(finite):
        raise QauditError(f"--shots {text!r}: a shot count is listed twice")
    if finite != sorted(finite):
        raise QauditError(f"--shots {text!r}: list the shot counts in increasing order")
    from qaudit.sdk.limits import MAX_SHOTS

    if finite and finite[-1] > MAX_SHOTS:
        raise QauditError(f"--shots {text!r}: {finite[-1]} is absurdly large (max {MAX_SHOTS})")
    return out


def shot_label(shots: int | None) -> str:
    """``16`` -> ``"16"``, ``None`` -> ``"exact"``."""
    return "exact" if shots is None else str(shots)


def repeat_seeds(seed: int, repeats: int) -> list[int]:
    """The seed of every repeat (``seed + r``); the same for every shot count.

    *repeats* must be an integer in 1..MAX_REPEATS and every repeat seed a valid seed (0..2**32-1).
    """
    from qaudit.sdk.limits import MAX_REPEATS, MAX_SEED, check_option, check_seed

    check_seed(seed)
    check_option("--repeats", repeats, "int", 1, MAX_REPEATS)
    if seed + repeats - 1 > MAX_SEED:
        raise QauditError(f"--seed {seed} with --repeats {repeats}: the repeat seeds seed..seed+repeats-1 must "
                          f"stay <= {MAX_SEED}")
    return [seed + r for r in range(repeats)]


# --------------------------------------------------------------------------- the study
@dataclass
class ShotSettings:
    """What ``qaudit shots`` runs; recorded in the report."""

    shots: list[int | None] = field(default_factory=lambda: parse_shots(DEFAULT_SHOTS))
    repeats: int = DEFAULT_REPEATS
    seed: int = 0
    #: None: the backend declaring the role ``shots``; the attack declaring the role ``verification``.
    backend: str | None = None
    attack: str | None = None
    forget_class: int | None = None
    unlearn: str | None = None
    unlearn_options: dict[str, Any] = field(default_factory=dict)
    n_bootstrap: int = 200
    probe_size: int = 200
    #: Reuse the (shot count, repeat) runs an interrupted study with the same inputs finished.
    resume: bool = False

    def validate(self) -> None:
        """One-line errors for settings out of range (before any work)."""
        from qaudit.leak.metrics import MAX_BOOTSTRAP
        from qaudit.sdk.limits import MAX_SHOT_COUNTS, MAX_SHOTS, check_option

        repeat_seeds(self.seed, self.repeats)
        if len(self.shots) > MAX_SHOT_COUNTS:
            raise QauditError(f"{len(self.shots)} shot counts given; at most {MAX_SHOT_COUNTS} are allowed")
        for s in self.shots:
            check_option("shot count", s, "int", 1, MAX_SHOTS, allow_none=True)
        check_option("--bootstrap", self.n_bootstrap, "int", 10, MAX_BOOTSTRAP)
        check_option("probe_size", self.probe_size, "int", 1, 1_000_000)
        if self.forget_class is None and self.unlearn:
            raise QauditError("--unlearn needs --forget-class C (the class to forget)")
        if self.unlearn_options and not self.unlearn:
            raise QauditError("--option sets the --unlearn method's options: pass --unlearn METHOD too")
        from qaudit.sdk.host import get_host, name_or_default

        # Empty names are refused by name_or_default, the one check every command uses (`--unlearn ''` included).
        host = get_host()
        name_or_default("backend", "shots", self.backend, "--backend")
        host.get("attack", name_or_default("attack", "verification", self.attack, "--attack"))
        if self.unlearn is not None:
            host.get("unlearning", name_or_default("unlearning", "default", self.unlearn, "--unlearn"))
