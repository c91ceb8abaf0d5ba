"""Every resource cap in one place, and the one helper that checks an option against its range.

Policy: *no silent coercion, no unbounded work*. A value of the wrong type (a bool or a float
where an integer is expected, a string or ``null`` where a number is expected) or outside its
range is a :class:`~qaudit.sdk.errors.QauditError` with one line naming the option and what is
allowed; nothing is rounded, clipped or defaulted behind the user's back.

Caps that belong to a subsystem with its own module stay there and are listed here for the
overview: ``qaudit.engine.MAX_UNITARY_QUBITS`` (11, the shared 2^n x 2^n unitary path),
``qaudit.engine.noise.MAX_NOISY_QUBITS`` (10, the exact Heisenberg noise engine),
``qaudit.leak.metrics.MAX_BOOTSTRAP`` (100000), ``qaudit.leak.crossfit.MAX_FOLDS`` (20), the archive reader's
structure caps ``qaudit.files.npz.MAX_MEMBERS`` (64), ``MAX_DIRECTORY_BYTES`` (64 KiB), ``MAX_HEADER_BYTES``
(10,000), ``qaudit.files.checkpoints.MAX_CHECKPOINT_BYTES`` (256 MiB), and the backends' declared
``Capabilities.max_qubits`` (the built-ins' figures are named below; checked by
:func:`qaudit.run.backend_choice.resolve_backend`).
"""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

import numpy as np

from qaudit.sdk.errors import QauditError

#: Largest seed: numpy's and scikit-learn's seeds are unsigned 32-bit integers (0..2**32-1).
MAX_SEED = 2**32 - 1

#: Qubits of a model simulated on the exact state-vector engine (basic-qnn, user-circuit). Every sample
#: holds a 2**n complex state (16 B per amplitude) and amplitude encoding pads each input to 2**n
#: features. Measured peak RSS of ``qaudit train --layers 1 --epochs 1 --n-train 100 --n-holdout 100`` on
#: digits: 14 qubits 0.39 GB, 16 qubits 0.72 GB, 18 qubits 2.07 GB (24 qubits: > 6 GB). 16 keeps the
#: largest allowed model well under 2 GB at that size (memory grows linearly with the samples held).
MAX_STATEVECTOR_QUBITS = 16

#: Qubits a model file may declare (``config.qubits``): the same figure, so every model qaudit trains and
#: writes, it also reads back (``train`` refuses wider models before any work, ``save`` checks the file).
MAX_MODEL_QUBITS = MAX_STATEVECTOR_QUBITS

#: Widest circuit classifier (basic-qnn, user-circuit) *in memory* (the Python API), and widest task the
#: ``exact`` backend runs: wider than MAX_STATEVECTOR_QUBITS it goes to qsim, one 2**n state per sample at
#: a time (20 qubits: 8 MB per state); such models can be evaluated but neither trained nor saved.
MAX_QNN_QUBITS = 20

#: Declared ``max_qubits`` of the other built-in simulators (``qaudit backends`` prints them):
#: ``sampled`` draws shots from the engine's batched state vectors (MAX_STATEVECTOR_QUBITS); ``qsim`` holds
#: one complex64 state (30 qubits: 8 GiB); ``cirq`` one complex128 state (20 qubits: 16 MB); the density
#: matrix simulators (``density-matrix``, ``noisy``) 4**n entries (10 qubits: 16 MB); ``google`` virtual
#: processors are simulated with qsim up to MAX_GOOGLE_QUBITS of their device graph.
MAX_QSIM_QUBITS = 30
MAX_CIRQ_QUBITS = 20
MAX_DENSITY_QUBITS = 10
MAX_GOOGLE_QUBITS = 20

#: Qubits of the HQNN's quantum layer: the CNN's dense layer has 2**n x 980 weights (12 qubits: 4M).
MAX_HQNN_QUBITS = 12

#: Circuit layers of a basic QNN (each adds 3 parameters per qubit and one CNOT ring).
MAX_LAYERS = 200

#: Circuit layers of the HQNN (the paper uses 1 to 5; every layer runs per minibatch through the CNN).
MAX_HQNN_LAYERS = 50

#: Classes of a dataset, a classifier or an outputs file: labels lie in 0..MAX_CLASSES-1 (a single label of
#: 10**9 would otherwise make per-class arrays of 10**9 entries); the dense head has one column per class.
MAX_CLASSES = 1000

#: Training epochs of a model, a SISA slice, an attack's MLP or an unlearning method.
MAX_EPOCHS = 10_000

#: Optimiser steps of an unlearning method (``steps``, ``max_steps``).
MAX_STEPS = 100_000

#: Minibatch size (a larger batch than the data is harmless but no dataset here is this large).
MAX_BATCH_SIZE = 1_000_000

#: Largest learning rate: lr must be positive and finite; above this every optimiser here diverges.
MAX_LR = 1_000.0

#: Smallest training set (``--n-train``) and holdout (``--n-holdout``): stratified splitting needs at
#: least one sample per class in each part, and the audits need at least 4 members and 4 non-members.
MIN_SPLIT = 4

#: Reference / shadow QNNs an attack may train (``-K``/``--reference-models``, ``shadow.n_shadow``):
#: each is a full training run of the target's architecture.
MAX_REFERENCE_MODELS = 256

#: U-LiRA shadow pairs (``unlearn --audit ulira -K``): each pair trains two models and runs the unlearning
#: method once, so 128 pairs are 256 trainings -- the budget of MAX_REFERENCE_MODELS.
MAX_SHADOW_PAIRS = 128

#: Model pairs of ``unlearn --forget-quality N``: each pair trains an original, unlearns it and retrains an
#: oracle (two trainings and a method run, as a U-LiRA pair).
MAX_FORGET_QUALITY_MODELS = 128

#: Unlearning runs of ``compare-unlearning`` (methods x seeds x shot counts): each runs a method on the model
#: and verifies it; every shot count also retrains the oracle once.
MAX_COMPARE_RUNS = 256
#: Retrain oracles of ``qaudit unlearn --oracles N`` (each is a full retraining of the target's architecture).
MAX_ORACLES = 64

#: Hidden units per layer of an attack's MLP (``gray-box.hidden``); the weight matrix is hidden**2.
MAX_HIDDEN = 4096

#: Population z-samples of RMIA (``rmia.n_z``): the score sorts n_z likelihood ratios per target.
MAX_Z_SAMPLES = 1_000_000

#: Training samples for SSD's Fisher estimate (``ssd.fisher_samples``).
MAX_FISHER_SAMPLES = 1_000_000

#: SISA shards and slices (each shard is a model; each slice a checkpoint per shard).
MAX_SHARDS = 256
MAX_SLICES = 256

#: Measurement shots per circuit evaluation (``--shots``).
MAX_SHOTS = 10_000_000

#: Entries in a shot-count list (``qaudit shots --shots 16,64,...``): every entry is a full audit per repeat.
MAX_SHOT_COUNTS = 32

#: Repeats per shot count (``qaudit shots --repeats``): every repeat is a full audit.
MAX_REPEATS = 100

#: Most-exposed members listed in a leak report (``--top-k``).
MAX_TOP_K = 100_000

#: Largest ``.npz`` outputs archive (``qaudit leak --outputs FILE.npz``), bytes: both its file size and
#: the *dtype-implied* size of the arrays read from it (elements x max(itemsize, 8): what they occupy as
#: float64/int64), checked from the headers before anything is allocated (:mod:`qaudit.files.npz`). 256 MiB is
#: 32M numbers: 12,500 samples x 10 classes x 256 reference models; the biggest outputs file in the
#: tests (1000 samples x 10 classes x 256 models) is 20 MB.
MAX_NPZ_BYTES = 256 * 1024 * 1024
#: The outputs file's cap (the same figure, :data:`MAX_NPZ_BYTES`).
MAX_OUTPUTS_BYTES = MAX_NPZ_BYTES
#: The same cap for an NPZ *dataset* (``--dataset FILE.npz``): all of MNIST (70,000 x 784) is 439 MB as float64.
MAX_DATASET_NPZ_BYTES = 512 * 1024 * 1024

#: Peak resident memory (bytes) of any reader of an untrusted file -- outputs files, NPZ datasets,
#: model files, checkpoints, cache entries -- including the interpreter and libraries it runs in (about
#: 0.2 GB). Not enforced at run time: it follows from the caps above, and the ``slow`` fuzz job
#: (tests/test_fuzz_surfaces.py) measures every hostile input against it.
MAX_READER_RSS_BYTES = 1_000_000_000

#: Largest weights file an importer reads (``qaudit import --weights``: a ``.pt`` state_dict, ``.npy``/``.npz``),
#: checked before reading: ``torch.load`` holds the whole file in memory (a 1.2 GB file reached 1.46 GB
#: resident). A QNN's weights are kilobytes; 256 MiB holds 33M float64 values.
MAX_WEIGHTS_BYTES = 256 * 1024 * 1024

#: Largest target epsilon ``--dp epsilon=`` accepts (beyond it DP promises nothing useful).
MAX_DP_EPSILON = 1_000.0
#: Range of ``--dp noise_multiplier=``: below 1e-3 the accounted epsilon is astronomically large or
#: infinite (the calibration of ``--dp epsilon=`` searches the same bracket).
MIN_NOISE_MULTIPLIER = 1e-3
MAX_NOISE_MULTIPLIER = 1_000.0
#: Largest ``--dp clip=`` (per-sample gradient L2 norm): far above any gradient norm of the models here; beyond
#: it noise_multiplier x clip overflows the weights.
MAX_DP_CLIP = 1e6
#: Most canaries a one-run audit (``qaudit audit-dp --canaries``) inserts.
MAX_CANARIES = 100_000


def max_jobs() -> int:
    """Worker processes allowed (``--jobs``): this machine's cores (``os.cpu_count()``)."""
    return os.cpu_count() or 1


_KINDS = {"int": "an integer", "float": "a number", "bool": "true or false"}


def _range_text(kind: str, low: Any, high: Any, low_open: bool) -> str:
    if low is None and high is None:
        return ""
    if kind == "int":
        if high is None:
            return f" >= {low}"
        if low is None:
            return f" <= {high}"
        return f" in {low}..{high}"
    lo = "(-inf" if low is None else (f"({low:g}" if low_open else f"[{low:g}")
    hi = "inf)" if high is None else f"{high:g}]"
    return f" in {lo}, {hi}"


#: Most characters of a user's value quoted back in an error line.
MAX_SHOWN = 60


def shown(value: Any) -> str:
    """``repr(value)`` for an error line, at most about MAX_SHOWN characters: an integer too long to print
    (Python refuses to convert one of more than 4300 digits) is described by its number of digits."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value).bit_length() > 64:
        return f"an integer of about {int(abs(value).bit_length() * 0.30103) + 1} digits"
    try:
        text = repr(value)
    except ValueError:  # a container holding an integer too long to print
        return f"a {type(value).__name__} holding an over-long integer"
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."


def check_option(name: str, value: Any, kind: str, low: Any = None, high: Any = None, *,
                 low_open: bool = False, allow_none: bool = False, owner: str = "", hint: str = "") -> Any:
    """Return *value* if it is of *kind* (``"int"``, ``"float"``, ``"bool"``) within [low, high]
    (``low_open``: low excluded; ``allow_none``: None passes); else raise one-line QauditError.

    Strict: a bool is not a number, a float (even 2.0) is not an integer, strings are never parsed.
    Integers are accepted for ``"float"`` and returned as float. *hint* is appended in parentheses.
    """
    if value is None and allow_none:
        return None
    prefix = f"{owner}: " if owner else ""
    want = _KINDS[kind] + _range_text(kind, low, high, low_open) + (" or null" if allow_none else "")
    why = f" ({hint})" if hint else ""
    bad = QauditError(f"{prefix}{name} must be {want}, got {shown(value)}{why}")
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise bad
        return bool(value)
    if isinstance(value, (bool, np.bool_)):
        raise bad
    if kind == "int":
        if not isinstance(value, numbers.Integral):
            raise bad
        value = int(value)
    else:
        if not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise bad
        value = float(value)
    if low is not None and (value < low or (low_open and value == low)):
        raise bad
    if high is not None and value > high:
        raise bad
    return value


def check_seed(value: Any, name: str = "--seed", owner: str = "") -> int:
    """A seed: an integer in 0..2**32-1 (what numpy and scikit-learn accept)."""
    return check_option(name, value, "int", 0, MAX_SEED, owner=owner)


def check_jobs(value: Any, name: str = "--jobs") -> int:
    """Worker processes: 1..this machine's cores."""
    return check_option(name, value, "int", 1, max_jobs())
