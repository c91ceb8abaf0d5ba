"""The paper's hybrid QNN (HQNN): a small CNN feeding an amplitude-encoded quantum layer.

Forward pass for a 28x28 grey-scale image (arXiv 2509.06086, authors' code)::

    x/255 -> (x - 0.5)/0.5 -> Conv2d(1->5, k5, stride 1, pad 2) -> ReLU -> MaxPool 2
      -> flatten (5*14*14 = 980) -> Linear 980->256 -> LeakyReLU(0.01) -> L2-normalise
      -> amplitude-encode on 8 qubits -> L x [U3 on every qubit, CNOT ring] -> <Z_0..7>
      -> Linear 8->10 -> softmax cross-entropy

The classical layers are numpy (``qaudit_qnn.layers``); the quantum layer runs on
the exact engine, whose ``backward(..., input_grad=True)`` returns dL/dψ0* so the
gradient flows back into the CNN (for a real input, dL/dψ0 = 2·Re dL/dψ0*).
Trained with SGD (lr 0.1, momentum 0.9, not Nesterov), batch 8, 25 epochs.

Option ``noise`` ("paper" or ``p1=..,p2=..,bitflip=..``) runs the quantum layer under
the paper's noise model on the exact Heisenberg-picture engine
(:mod:`qaudit.engine.noise`); the input gradient is then ``2 Re(M_j) z`` with
``M_j = E†(Z_j)``. It costs about 0.5 s per minibatch of 8 (the engine's cost does
not shrink with the batch), so noisy training at paper scale takes tens of minutes.

Initialisation follows PyTorch's defaults for the classical layers
(U(±1/sqrt(fan_in)) for weights and biases) and the paper's U(−π, π) for the
circuit angles.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qaudit.sdk import MAX_HQNN_LAYERS, MAX_HQNN_QUBITS, CircuitClassifier, QauditError, cross_entropy_grad
from qaudit_qnn import layers

IMAGE_SIDE = 28
CHANNELS = 5
KERNEL = 5
PADDING = 2
LEAK = 0.01
POOLED = CHANNELS * (IMAGE_SIDE // 2) ** 2  # 980
#: Samples per chunk for the classical layers (bounds the im2col buffer to ~40 MB).
CHUNK = 256


class HQNN(CircuitClassifier):
    """Paper HQNN; see the module docstring. Weights (PyTorch layouts):
    ``conv_weight`` (5, 1, 5, 5), ``conv_bias`` (5,), ``fc_weight`` (2**qubits, 980),
    ``fc_bias`` (2**qubits,), ``theta`` (24·layers,), ``W`` (qubits, classes), ``b`` (classes,)."""

    name = "hqnn"
    description = "Paper's hybrid QNN: CNN (conv 5x5, maxpool, linear 980->256) -> 8-qubit amplitude-encoded circuit"
    DEFAULTS = {
        "qubits": 8,
        "layers": 1,
        "epochs": 25,
        "lr": 0.1,
        "batch_size": 8,
        "momentum": 0.9,
        "nesterov": False,
        "seed": 0,
        "noise": None,  # the quantum layer under a noise model: "paper" or "p1=..,p2=..,bitflip=.."
    }
    CLASSICAL = ("conv_weight", "conv_bias", "fc_weight", "fc_bias")
    RANGES = {**CircuitClassifier.RANGES, "qubits": (1, MAX_HQNN_QUBITS), "layers": (1, MAX_HQNN_LAYERS)}

    # -- options and circuit ---------------------------------------------------
    def validate_options(self) -> None:
        super().validate_options()
        o = self.options  # types and ranges: RANGES (the paper uses 8 qubits and 1 to 5 layers)
        if o["noise"] is not None:
            from qaudit.sdk.engine import MAX_NOISY_QUBITS, NoiseModel

            if not isinstance(o["noise"], str):
                raise QauditError("hqnn: noise must be a string ('paper' or p1=..,p2=..,bitflip=..)")
            NoiseModel.parse(o["noise"])
            if o["qubits"] > MAX_NOISY_QUBITS:
                raise QauditError(f"hqnn: noise needs at most {MAX_NOISY_QUBITS} qubits")

    def build_gates(self):
        from qaudit_qnn.basic import u3_ring_gates

        self.validate_options()
        n = self.options["qubits"]
        gates, names = u3_ring_gates(n, self.options["layers"])
        return n, gates, names, [], [f"Z{q}" for q in range(n)]

    @property
    def hidden(self) -> int:
        """Width of the classical feature vector = number of amplitudes."""
        return 2 ** self.options["qubits"]

    def encoded_width(self) -> int:
        """The model consumes normalised 28x28 images (784 values)."""
        return IMAGE_SIDE * IMAGE_SIDE

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = super().param_shapes()
        shapes.update(conv_weight=(CHANNELS, 1, KERNEL, KERNEL), conv_bias=(CHANNELS,),
                      fc_weight=(self.hidden, POOLED), fc_bias=(self.hidden,))
        return shapes

    # -- input -----------------------------------------------------------------
    def _check_images(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        want = IMAGE_SIDE * IMAGE_SIDE
        if X.ndim == 3 and X.shape[1:] == (IMAGE_SIDE, IMAGE_SIDE):
            X = X.reshape(len(X), -1)
        if X.ndim != 2 or X.shape[1] != want:
            got = f"{X.shape[1]} features per sample" if X.ndim == 2 else f"an array of shape {X.shape}"
            raise QauditError(f"hqnn: needs {IMAGE_SIDE}x{IMAGE_SIDE} grey-scale images ({want} features per "
                              f"sample, e.g. --dataset mnist), got {got}")
        return X

    def fit_preprocessing(self, X: np.ndarray) -> list[dict[str, Any]]:
        """Pixels to [0, 1] (÷255 for 8-bit images), then (x − 0.5)/0.5 as the paper."""
        peak = float(np.max(np.abs(X))) if X.size else 0.0
        steps: list[dict[str, Any]] = []
        if peak > 1.0:
            steps.append({"op": "scale", "factor": 1.0 / max(255.0, peak)})
        steps.append({"op": "normalize", "mean": 0.5, "std": 0.5})
        return steps

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Raw images -> normalised images (n, 784); the CNN runs inside the model."""
        return super().transform(self._check_images(X))

    # -- classical part ----------------------------------------------------------
    def _classical_forward(self, Z: np.ndarray) -> tuple[np.ndarray, tuple]:
        """Normalised images (n, 784) -> unit feature vectors (n, 2**qubits) and a cache."""
        w = self.weights
        x = Z.reshape(-1, 1, IMAGE_SIDE, IMAGE_SIDE)
        a, c_conv = layers.conv2d_forward(x, w["conv_weight"], w["conv_bias"], PADDING)
        # max-pool before ReLU: relu(maxpool(a)) == maxpool(relu(a)) and the gradients are identical
        # (a window whose max is <= 0 passes no gradient either way), on a 4x smaller tensor
        a, c_pool = layers.maxpool2_forward(a)
        a, c_relu = layers.relu_forward(a)
        pooled_shape = a.shape
        a, c_fc = layers.linear_forward(a.reshape(len(x), -1), w["fc_weight"], w["fc_bias"])
        a, c_leak = layers.leaky_relu_forward(a, LEAK)
        z, c_l2 = layers.l2_normalise_forward(a)
        return z, (c_conv, c_relu, c_pool, pooled_shape, c_fc, c_leak, c_l2)

    def _classical_backward(self, d_z: np.ndarray, cache: tuple, per_sample: bool) -> dict[str, np.ndarray]:
        c_conv, c_relu, c_pool, pooled_shape, c_fc, c_leak, c_l2 = cache
        d = layers.l2_normalise_backward(d_z, c_l2)
        d = layers.leaky_relu_backward(d, c_leak)
        g_fc_w, g_fc_b, d = layers.linear_backward(d, c_fc, per_sample=per_sample)
        d = layers.relu_backward(d.reshape(pooled_shape), c_relu)
        d = layers.maxpool2_backward(d, c_pool)
        g_conv_w, g_conv_b, _ = layers.conv2d_backward(d, c_conv, per_sample=per_sample)
        return {"conv_weight": g_conv_w, "conv_bias": g_conv_b, "fc_weight": g_fc_w, "fc_bias": g_fc_b}

    def encode(self, Z: np.ndarray) -> np.ndarray:
        """Normalised images -> the amplitude vectors fed to the circuit, (n, 2**qubits) float64."""
        if len(Z) == 0:
            return np.zeros((0, self.hidden))
        with layers.single_threaded():
            return np.concatenate([self._classical_forward(Z[s:s + CHUNK])[0] for s in range(0, len(Z), CHUNK)])

    # -- gradients ---------------------------------------------------------------
    def _loss_grad_encoded(self, Z: np.ndarray, y: np.ndarray, per_sample: bool = False) -> tuple[Any, dict]:
        if len(Z) > CHUNK:
            return self._chunked(Z, y, per_sample)
        with layers.single_threaded():
            return self._loss_grad_chunk(Z, y, per_sample)

    def _loss_grad_chunk(self, Z: np.ndarray, y: np.ndarray, per_sample: bool) -> tuple[Any, dict]:
        from qaudit.sdk.engine import backward, choose_method, forward

        program, obs = self.compiled.program, self.compiled.observables
        z, cache = self._classical_forward(Z)
        noisy = self._noisy_engine() if self.options.get("noise") else None
        if noisy is not None:
            ev, qcache = noisy.forward(z, keep=True)
        else:
            method = choose_method(program, len(Z), per_sample)
            ev, qcache = forward(program, self.weights["theta"], obs, states=z.astype(np.complex128), method=method)
        losses, dlogits = cross_entropy_grad(self.head(ev), y)
        if per_sample:
            dlogits = dlogits * len(y)  # each sample's gradient of its own loss
        d_ev = dlogits @ self.weights["W"].T
        if noisy is not None:
            # <O_j> = z^T Re(M_j) z with M_j = E†(O_j) Hermitian, so d<O_j>/dz = 2 Re(M_j) z.
            g_theta = noisy.backward(qcache, d_ev, per_sample=per_sample)
            d_z = 2.0 * np.einsum("nj,jab,nb->na", d_ev, qcache.matrices.real, z, optimize=True)
        else:
            g_theta, d_psi0 = backward(qcache, d_ev, per_sample=per_sample, input_grad=True)
            d_z = 2.0 * d_psi0.real
        grads = self._classical_backward(d_z, cache, per_sample)
        grads["theta"] = g_theta
        if per_sample:
            grads.update(W=ev[:, :, None] * dlogits[:, None, :], b=dlogits)
            return losses, grads
        grads.update(W=ev.T @ dlogits, b=dlogits.sum(axis=0))
        return float(losses.mean()), grads

    def _chunked(self, Z: np.ndarray, y: np.ndarray, per_sample: bool) -> tuple[Any, dict]:
        """Large batches in chunks of CHUNK samples (same result, bounded memory)."""
        parts = [self._loss_grad_encoded(Z[s:s + CHUNK], y[s:s + CHUNK], per_sample)
                 for s in range(0, len(Z), CHUNK)]
        if per_sample:
            losses = np.concatenate([p[0] for p in parts])
            return losses, {k: np.concatenate([p[1][k] for p in parts]) for k in parts[0][1]}
        sizes = [min(CHUNK, len(Z) - s) for s in range(0, len(Z), CHUNK)]
        loss = sum(p[0] * n for p, n in zip(parts, sizes)) / len(Z)
        grads = {k: sum(p[1][k] * n for p, n in zip(parts, sizes)) / len(Z) for k in parts[0][1]}
        return float(loss), grads

    # -- training ------------------------------------------------------------------
    def init_theta(self, rng: np.random.Generator, n_params: int) -> np.ndarray:
        return rng.uniform(-np.pi, np.pi, size=n_params)

    def initialise(self, X: np.ndarray, y: np.ndarray, n_classes: int | None = None) -> HQNN:
        """Fit preprocessing and draw initial weights (seeded by option ``seed``)."""
        X = self._check_images(X)
        y = np.asarray(y)
        self.n_features_in = X.shape[1]
        self.n_classes = int(n_classes or (int(y.max()) + 1))
        self.preprocessing = self.fit_preprocessing(X)
        rng = np.random.default_rng(self.options["seed"])
        n_obs = len(self.compiled.observables)

        def uniform(fan_in: int, shape: tuple[int, ...]) -> np.ndarray:
            bound = 1.0 / np.sqrt(fan_in)
            return rng.uniform(-bound, bound, size=shape)

        self.weights = {
            "conv_weight": uniform(KERNEL * KERNEL, (CHANNELS, 1, KERNEL, KERNEL)),
            "conv_bias": uniform(KERNEL * KERNEL, (CHANNELS,)),
            "fc_weight": uniform(POOLED, (self.hidden, POOLED)),
            "fc_bias": uniform(POOLED, (self.hidden,)),
            "theta": self.init_theta(rng, len(self.compiled.program.param_names)),
            "W": uniform(n_obs, (n_obs, self.n_classes)),
            "b": uniform(n_obs, (self.n_classes,)),
        }
        return self

    # -- model file ----------------------------------------------------------------
    @classmethod
    def from_document(cls, document: dict[str, Any]) -> HQNN:
        model = super().from_document(document)
        if model.n_features_in != IMAGE_SIDE * IMAGE_SIDE:
            raise QauditError(f"hqnn: config.n_features_in must be {IMAGE_SIDE * IMAGE_SIDE} (28x28 images)")
        return model
