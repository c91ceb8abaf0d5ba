"""The ``--dp`` option: ``epsilon=2,delta=1e-5[,clip=1.0]`` or ``noise_multiplier=1.1[,delta=..,clip=..]``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qaudit.sdk.errors import QauditError
from qaudit.sdk.limits import MAX_DP_CLIP, MAX_DP_EPSILON, MAX_NOISE_MULTIPLIER, MIN_NOISE_MULTIPLIER, check_option

#: Keys ``--dp`` accepts, with their defaults (epsilon / noise_multiplier: exactly one must be given).
KEYS = {"epsilon": None, "noise_multiplier": None, "delta": 1e-5, "clip": 1.0}


@dataclass(frozen=True)
class DPSpec:
    """What the user asked for: a target ``epsilon`` (the noise is calibrated to it) or a fixed
    ``noise_multiplier`` (the epsilon is accounted), at ``delta``, clipping per-sample gradients to
    L2 norm ``clip``."""

    delta: float = 1e-5
    clip: float = 1.0
    epsilon: float | None = None
    noise_multiplier: float | None = None

    @classmethod
    def parse(cls, text: str) -> DPSpec:
        """Parse ``KEY=VALUE[,KEY=VALUE...]``; every problem is a one-line QauditError."""
        values: dict[str, Any] = {}
        for part in (p.strip() for p in str(text).split(",")):
            if not part:
                continue
            key, sep, raw = part.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or key not in KEYS:
                raise QauditError(f"--dp expects KEY=VALUE pairs with keys {', '.join(KEYS)}, got {part!r}")
            try:
                values[key] = float(raw)
            except ValueError:
                raise QauditError(f"--dp {key} must be a number, got {raw.strip()!r}") from None
        return cls.from_values(values)

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> DPSpec:
        """Validate a mapping of the :data:`KEYS` (as parsed, or as recorded in a model file)."""
        if (values.get("epsilon") is None) == (values.get("noise_multiplier") is None):
            raise QauditError("--dp needs exactly one of epsilon=... (target) or noise_multiplier=...")
        delta = check_option("--dp delta", values.get("delta", KEYS["delta"]), "float", 0.0, 1.0, low_open=True)
        if delta >= 1.0:
            raise QauditError(f"--dp delta must lie in (0, 1), got {delta!r}")
        clip = check_option("--dp clip", values.get("clip", KEYS["clip"]), "float", 0.0, MAX_DP_CLIP, low_open=True)
        eps, sigma = values.get("epsilon"), values.get("noise_multiplier")
        if eps is not None:
            eps = check_option("--dp epsilon", eps, "float", 0.0, MAX_DP_EPSILON, low_open=True)
        if sigma is not None:
            sigma = check_option("--dp noise_multiplier", sigma, "float", MIN_NOISE_MULTIPLIER, MAX_NOISE_MULTIPLIER)
        return cls(delta=delta, clip=clip, epsilon=eps, noise_multiplier=sigma)
