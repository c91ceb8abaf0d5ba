"""Backend lookup and capability checks shared by every command that evaluates a model."""

from __future__ import annotations

from typing import Any

from qaudit.sdk.errors import QauditError
from qaudit.sdk.host import get_host
from qaudit.sdk.limits import MAX_SHOTS, check_option

__all__ = ["MAX_SHOTS", "backend_or_default", "default_backend", "resolve_backend"]


def default_backend(shots: int | None) -> str:
    """The backend a plugin declares for this case: role ``shots`` when *shots* are asked, else ``default``."""
    return get_host().role("backend", "shots" if shots else "default")


def backend_or_default(name: str | None, shots: int | None) -> str:
    """*name* as given, or (None) :func:`default_backend`; ``--backend ''`` is an error, not the default."""
    from qaudit.sdk.host import name_or_default

    return name_or_default("backend", "shots" if shots else "default", name, "--backend")


def resolve_backend(name: str | None, shots: int | None, model: Any = None) -> tuple[Any, int | None]:
    """Instantiate backend *name* and normalise *shots* (0/None = exact).

    Refuses combinations the backend's declared capabilities do not support, and
    exact mode on an instance whose ``exact`` attribute is False (e.g. noisy qsim), and
    models wider than the backend instance's ``max_qubits()`` (device-specific limits,
    e.g. a processor's qubit count). Backends take arguments as ``name:argument``
    (``density-matrix:p1=1e-3``, ``qsim:threads=2``, ``google:rainbow``).
    """
    if shots is not None:
        check_option("--shots", shots, "int")
        if shots < 0:
            raise QauditError(f"--shots must be >= 0 (0 = exact), got {shots}")
        if shots > MAX_SHOTS:
            raise QauditError(f"--shots {shots} is absurdly large (max {MAX_SHOTS})")
    shots = shots or None
    name = name or default_backend(shots)
    cls = get_host().get("backend", name)
    caps = cls.capabilities
    if shots is None and not caps.exact:
        raise QauditError(f"backend {name!r} cannot compute exact expectation values; pass --shots N")
    if shots is not None and not caps.shots:
        raise QauditError(f"backend {name!r} is exact only; drop --shots, or choose a backend that measures "
                          "(`qaudit backends`, column shots)")
    if model is not None and caps.max_qubits is not None and model.n_qubits > caps.max_qubits:
        raise QauditError(f"model has {model.n_qubits} qubits, backend {name!r} supports at most {caps.max_qubits}")
    argument = name.split(":", 1)[1] if ":" in name else None
    backend = cls(argument) if getattr(cls, "takes_argument", False) else cls()  # optional Backend members
    if shots is None and getattr(backend, "exact", True) is False:
        # the instance knows its configuration (e.g. qsim with noise averages trajectories)
        raise QauditError(f"backend {name!r} is not exact in this configuration; pass --shots N "
                          "(or use --backend noisy:SPEC for exact noisy values)")
    limit = getattr(backend, "max_qubits", None)
    if model is not None and callable(limit) and model.n_qubits > limit():
        # the instance knows its device (e.g. google:PROCESSOR): too wide is an input error
        raise QauditError(f"model has {model.n_qubits} qubits, too wide for backend {name!r} (at most {limit()})")
    return backend, shots
