"""The exact engine against independent paths: cirq.Simulator, finite differences, the golden file."""

from __future__ import annotations

import numpy as np
import pytest

cirq = pytest.importorskip("cirq")
sympy = pytest.importorskip("sympy")

from qaudit.engine import (  # noqa: E402
    MAX_UNITARY_QUBITS,
    PauliObservables,
    Program,
    backward,
    choose_method,
    forward,
)
from qaudit.sdk.errors import QauditError  # noqa: E402

PAULI = {"X": cirq.X, "Y": cirq.Y, "Z": cirq.Z}
METHODS = ("unitary", "batched")


def random_circuit(n: int, depth: int, rng: np.random.Generator, n_symbols: int = 6,
                   features: tuple[str, ...] = ()):
    """Random circuit mixing rx/ry/rz/XPow/ZZPow/CZPow/CNOT/H/SWAP with symbols and linear forms."""
    qubits = cirq.LineQubit.range(n)
    params = [sympy.Symbol(f"p{i}") for i in range(n_symbols)]
    feats = [sympy.Symbol(f) for f in features]

    def param():
        pool = params + feats if feats and rng.random() < 0.4 else params
        s = pool[rng.integers(len(pool))]
        if rng.random() < 0.5:
            return float(rng.normal()) * s + float(rng.normal())  # linear form a*sym + b
        return s

    ops = []
    for _ in range(depth):
        for _ in range(max(1, n // 2)):
            a = int(rng.integers(n))
            b = int((a + 1 + rng.integers(n - 1)) % n) if n > 1 else a
            kind = int(rng.integers(9 if n > 1 else 4))
            if kind == 0:
                ops.append(cirq.rx(param())(qubits[a]))
            elif kind == 1:
                ops.append(cirq.ry(param())(qubits[a]))
            elif kind == 2:
                ops.append(cirq.rz(param())(qubits[a]))
            elif kind == 3:
                ops.append(cirq.XPowGate(exponent=param())(qubits[a]))
            elif kind == 4:
                ops.append(cirq.ZZPowGate(exponent=param())(qubits[a], qubits[b]))
            elif kind == 5:
                ops.append(cirq.CZPowGate(exponent=param())(qubits[a], qubits[b]))
            elif kind == 6:
                ops.append(cirq.CNOT(qubits[a], qubits[b]))
            elif kind == 7:
                ops.append(cirq.H(qubits[a]))
            else:
                ops.append(cirq.SWAP(qubits[a], qubits[b]))
    # make sure every parameter symbol appears at least once
    for i, s in enumerate(params):
        ops.append(cirq.ry(s)(qubits[i % n]))
    return cirq.Circuit(ops), qubits, [str(s) for s in params]


def random_states(batch: int, n: int, rng: np.random.Generator, real: bool) -> np.ndarray:
    x = rng.normal(size=(batch, 2**n))
    if not real:
        x = x + 1j * rng.normal(size=x.shape)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.complex128)


def pauli_terms(n: int, rng: np.random.Generator) -> list[str]:
    terms = [f"Z{q}" for q in range(n)]
    for _ in range(3):
        qs = rng.choice(n, size=min(n, 2), replace=False)
        terms.append(" ".join(f"{'XYZ'[rng.integers(3)]}{q}" for q in qs))
    terms.append(f"X{n - 1}")
    terms.append("Y0")
    return terms


def cirq_expvals(circuit, qubits, terms, theta, names, states=None, features=None, feature_names=()):
    """Expectation values from cirq.Simulator (complex128), one sample at a time."""
    sim = cirq.Simulator(dtype=np.complex128)
    batch = len(states) if states is not None else len(features)
    out = np.zeros((batch, len(terms)))
    for i in range(batch):
        values = dict(zip(names, theta))
        if features is not None:
            values.update(dict(zip(feature_names, features[i])))
        init = states[i] if states is not None else 0
        result = sim.simulate(circuit, cirq.ParamResolver(values), qubit_order=qubits, initial_state=init)
        psi = result.final_state_vector
        for j, term in enumerate(terms):
            ps = cirq.PauliString({qubits[int(t[1:])]: PAULI[t[0]] for t in term.split()})
            out[i, j] = np.real(ps.expectation_from_state_vector(psi, {q: k for k, q in enumerate(qubits)}))
    return out


@pytest.mark.parametrize("n,depth", [(2, 3), (3, 6), (5, 4), (6, 3), (8, 2)])
@pytest.mark.parametrize("method", METHODS)
def test_matches_cirq_simulator(n, depth, method):
    rng = np.random.default_rng(100 * n + depth)
    circuit, qubits, names = random_circuit(n, depth, rng)
    program = Program.from_circuit(circuit, qubits, names)
    terms = pauli_terms(n, rng)
    obs = PauliObservables(terms, n)
    theta = rng.normal(size=len(names))
    for real in (True, False):
        states = random_states(4, n, rng, real)
        ev, _ = forward(program, theta, obs, states=states, method=method)
        ref = cirq_expvals(circuit, qubits, terms, theta, names, states=states)
        np.testing.assert_allclose(ev, ref, atol=1e-6)


@pytest.mark.parametrize("n", [2, 4, 6])
def test_angle_encoded_gates_match_cirq(n):
    rng = np.random.default_rng(7 + n)
    feature_names = tuple(f"x{i}" for i in range(3))
    circuit, qubits, names = random_circuit(n, 4, rng, features=feature_names)
    # guarantee input dependence
    circuit.append(cirq.rx(sympy.Symbol("x0") * 1.3 + 0.1)(qubits[0]))
    program = Program.from_circuit(circuit, qubits, names, feature_names)
    assert program.input_dependent
    assert choose_method(program, 10_000) == "batched"
    terms = pauli_terms(n, rng)
    obs = PauliObservables(terms, n)
    theta = rng.normal(size=len(names))
    features = rng.normal(size=(5, 3))
    ev, _ = forward(program, theta, obs, features=features)
    ref = cirq_expvals(circuit, qubits, terms, theta, names, features=features, feature_names=feature_names)
    np.testing.assert_allclose(ev, ref, atol=1e-6)
    with pytest.raises((QauditError, ValueError)):
        forward(program, theta, obs, features=features, method="unitary")


def _loss(program, theta, obs, weights, **inputs):
    ev, _ = forward(program, theta, obs, method=inputs.pop("method"), **inputs)
    return float(np.sum(weights * ev))


@pytest.mark.parametrize("n,depth", [(3, 4), (5, 3)])
@pytest.mark.parametrize("method", METHODS)
def test_gradients_match_finite_differences(n, depth, method):
    rng = np.random.default_rng(n * 31 + depth)
    circuit, qubits, names = random_circuit(n, depth, rng)
    program = Program.from_circuit(circuit, qubits, names)
    obs = PauliObservables(pauli_terms(n, rng), n)
    theta = rng.normal(size=len(names))
    states = random_states(6, n, rng, real=method == "unitary")
    ev, cache = forward(program, theta, obs, states=states, method=method)
    w = rng.normal(size=ev.shape)  # L = Σ w * ev, so dL/dev = w
    grad, grad_states = backward(cache, w, input_grad=True)
    h = 1e-6
    fd = np.zeros_like(theta)
    for i in range(len(theta)):
        tp, tm = theta.copy(), theta.copy()
        tp[i] += h
        tm[i] -= h
        fd[i] = (_loss(program, tp, obs, w, states=states, method=method)
                 - _loss(program, tm, obs, w, states=states, method=method)) / (2 * h)
    np.testing.assert_allclose(grad, fd, atol=1e-6)
    # input-state gradient: dL/dRe(x) = 2 Re g, dL/dIm(x) = 2 Im g with g = dL/dψ0*
    for _ in range(5):
        b, k = int(rng.integers(len(states))), int(rng.integers(2**n))
        for direction, part in ((1.0, np.real), (1j, np.imag)):
            sp, sm = states.copy(), states.copy()
            sp[b, k] += h * direction
            sm[b, k] -= h * direction
            fd_x = (_loss(program, theta, obs, w, states=sp, method=method)
                    - _loss(program, theta, obs, w, states=sm, method=method)) / (2 * h)
            assert abs(fd_x - 2 * part(grad_states[b, k])) < 1e-6


def test_angle_encoded_gradient_matches_finite_differences():
    rng = np.random.default_rng(5)
    feature_names = ("x0", "x1")
    circuit, qubits, names = random_circuit(4, 4, rng, features=feature_names)
    circuit.append(cirq.ry(sympy.Symbol("x1"))(qubits[2]))
    program = Program.from_circuit(circuit, qubits, names, feature_names)
    obs = PauliObservables(pauli_terms(4, rng), 4)
    theta = rng.normal(size=len(names))
    features = rng.normal(size=(4, 2))
    ev, cache = forward(program, theta, obs, features=features)
    w = rng.normal(size=ev.shape)
    grad, _ = backward(cache, w)
    per, _ = backward(cache, w, per_sample=True)
    np.testing.assert_allclose(per.sum(axis=0), grad, atol=1e-10)
    h = 1e-6
    for i in range(len(theta)):
        tp, tm = theta.copy(), theta.copy()
        tp[i] += h
        tm[i] -= h
        fd = (_loss(program, tp, obs, w, features=features, method="batched")
              - _loss(program, tm, obs, w, features=features, method="batched")) / (2 * h)
        assert abs(fd - grad[i]) < 1e-6


@pytest.mark.parametrize("n", [4, 7])
def test_per_sample_gradients_sum_to_batch_gradient(n):
    rng = np.random.default_rng(n)
    circuit, qubits, names = random_circuit(n, 3, rng)
    program = Program.from_circuit(circuit, qubits, names)
    obs = PauliObservables(pauli_terms(n, rng), n)
    theta = rng.normal(size=len(names))
    states = random_states(9, n, rng, real=True)
    ev, cache_u = forward(program, theta, obs, states=states, method="unitary")
    w = rng.normal(size=ev.shape)
    g_unitary, _ = backward(cache_u, w)
    _, cache_b = forward(program, theta, obs, states=states, method="batched")
    per, _ = backward(cache_b, w, per_sample=True)
    assert per.shape == (9, len(names))
    np.testing.assert_allclose(per.sum(axis=0), g_unitary, atol=1e-10)
    # each row is the gradient of that sample's own term
    single, cache_1 = forward(program, theta, obs, states=states[2:3], method="batched")
    g1, _ = backward(cache_1, w[2:3])
    np.testing.assert_allclose(per[2], g1, atol=1e-10)
    # per-sample also works from a shared-unitary cache
    per_u, _ = backward(cache_u, w, per_sample=True)
    np.testing.assert_allclose(per_u, per, atol=1e-10)


def _golden_model(entry):
    from qaudit_qnn.basic import BasicQNN

    n, layers = entry["n_qubits"], entry["n_layers"]
    model = BasicQNN(qubits=n, layers=layers)
    model.preprocessing = [{"op": "l2"}]
    model.n_features_in = 2**n
    model.n_classes = len(entry["b"])
    model.weights = {"theta": np.asarray(entry["theta"], dtype=float).reshape(-1),
                     "W": np.asarray(entry["W"], dtype=float), "b": np.asarray(entry["b"], dtype=float)}
    return model


@pytest.mark.parametrize("key", ["basic_qnn_8q_5l", "basic_qnn_6q_2l"])
@pytest.mark.parametrize("method", METHODS)
def test_golden_basic_qnn(golden_basic, key, method, monkeypatch):
    import qaudit.engine as engine

    entry = golden_basic[key]
    model = _golden_model(entry)
    X = np.asarray(entry["x_unnormalised"], dtype=float)
    y = np.asarray(entry["y"])
    _, _, program, obs, _ = model.compiled[:5]
    Z = model.transform(X)
    ev, _ = forward(program, model.weights["theta"], obs, states=Z, method=method)
    np.testing.assert_allclose(ev, entry["expval_z"], atol=1e-10)
    np.testing.assert_allclose(model.predict_proba(X), entry["probs"], atol=1e-10)
    monkeypatch.setattr(engine, "choose_method", lambda *a, **k: method)
    loss, grads = model.loss_and_grad(X, y)
    assert abs(loss - entry["loss"]) < 1e-10
    np.testing.assert_allclose(grads["theta"], np.asarray(entry["grad_theta"]).reshape(-1), atol=1e-10)
    np.testing.assert_allclose(grads["W"], entry["grad_W"], atol=1e-10)
    np.testing.assert_allclose(grads["b"], entry["grad_b"], atol=1e-10)
    per = model.per_sample_grads(X, y)
    np.testing.assert_allclose(per["theta"].mean(axis=0), grads["theta"], atol=1e-10)


def _compile(circuit, qubits, names=None, features=()):
    return Program.from_circuit(circuit, qubits, names, features)


def test_unsupported_gates_and_symbols_raise():
    q = cirq.LineQubit.range(2)
    a, b = sympy.Symbol("a"), sympy.Symbol("b")
    bad = [
        cirq.Circuit(cirq.FSimGate(theta=a, phi=0.1)(*q)),  # parameterised non-EigenGate
        cirq.Circuit(cirq.amplitude_damp(0.1)(q[0])),  # non-unitary channel
        cirq.Circuit(cirq.rx(a**2)(q[0])),  # nonlinear
        cirq.Circuit(cirq.rx(a * b)(q[0])),  # product of two symbols
        cirq.Circuit(cirq.rx(a + b)(q[0])),  # two symbols in one parameter
        cirq.Circuit(cirq.rx(sympy.sin(a))(q[0])),  # a function
    ]
    for circuit in bad:
        with pytest.raises(QauditError):
            _compile(circuit, q)
    with pytest.raises(QauditError, match="unknown symbols"):
        _compile(cirq.Circuit(cirq.rx(a)(q[0]), cirq.ry(b)(q[1])), q, ["a"])
    with pytest.raises(QauditError, match="outside the register"):
        _compile(cirq.Circuit(cirq.rx(a)(cirq.LineQubit(5))), q)
    with pytest.raises(QauditError):
        PauliObservables(["Q0"], 2)
    with pytest.raises(QauditError):
        PauliObservables(["Z3"], 2)


def test_wide_registers_never_take_the_unitary_path():
    from qaudit_qnn.basic import BasicQNN

    for n in (MAX_UNITARY_QUBITS + 1, 16):
        model = BasicQNN(qubits=n, layers=1)
        program = model.compiled[2]
        for batch in (1, 32, 10_000, 10**9):
            assert choose_method(program, batch) == "batched"
        with pytest.raises(QauditError, match="shared-unitary"):
            forward(program, np.zeros(len(program.param_names)), model.compiled[3],
                    states=np.eye(1, 2**n, dtype=np.complex128), method="unitary")


def test_twelve_qubit_basic_qnn_trains_on_digits():
    from qaudit.files.data import load_dataset
    from qaudit.train.workflows import train_model

    ds = load_dataset("digits")
    mf = train_model("basic-qnn", ds, n_train=64, n_holdout=32, seed=0,
                     options={"qubits": 12, "layers": 1, "epochs": 2, "batch_size": 32})
    hist = mf.training["loss_history"]
    assert len(hist) == 2 and all(np.isfinite(hist))
    proba = mf.model.predict_proba(ds.X[mf.data.holdout[:8]])
    assert proba.shape == (8, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.slow
def test_sixteen_qubit_basic_qnn_trains_on_synthetic_data():
    from qaudit.files.data import Dataset
    from qaudit.train.workflows import train_model

    rng = np.random.default_rng(0)
    X = rng.random((96, 64))
    y = (X[:, :32].sum(axis=1) > X[:, 32:].sum(axis=1)).astype(np.int64)
    ds = Dataset("synthetic", X, y)
    mf = train_model("basic-qnn", ds, n_train=64, n_holdout=32, seed=0,
                     options={"qubits": 16, "layers": 1, "epochs": 1, "batch_size": 32})
    assert np.isfinite(mf.training["loss_history"][0])
    assert mf.model.predict_proba(X[:4]).shape == (4, 2)


# -- issue 19: the fused sweep against an independent dense computation and the per-block path --------


def _dense(program, rb_list, dim):
    """Full-register matrix of every resolved block (columns = images of the basis states)."""
    from qaudit.engine.statevector import apply_block

    eye = np.eye(dim, dtype=np.complex128)
    return [apply_block(program, rb, eye) for rb in rb_list]


def dense_gradient(program, theta, obs, states, w):
    """dL/dθ and dL/dψ0* of L = Σ w·<P> from dense 2^n x 2^n products and the product rule, using the
    per-factor derivative formula of ResolvedBlock (prefix/suffix products), not the resolve plan."""
    from qaudit.engine.plan import ResolvedBlock

    pindex = {name: i for i, name in enumerate(program.param_names)}
    blocks = []
    for block in program.blocks:
        values = [theta[pindex[f.form.symbol]] if f.form is not None and f.form.symbol in pindex else 0.0
                  for f in block.factors]
        blocks.append(ResolvedBlock(block, values))
    mats = _dense(program, blocks, program.dim)
    unitary = np.eye(program.dim, dtype=np.complex128)
    for m in mats:
        unitary = m @ unitary
    psi = states @ unitary.T
    lam = obs.cotangent(psi, w)
    grad = np.zeros(len(theta))
    for b, rb in enumerate(blocks):
        before = np.eye(program.dim, dtype=np.complex128)
        for m in mats[:b]:
            before = m @ before
        after = np.eye(program.dim, dtype=np.complex128)
        for m in mats[b + 1:]:
            after = m @ after
        for symbol, d in rb.derivatives():
            local = ResolvedBlock.evaluated(rb.block, None, [d], d)
            d_full = after @ _dense(program, [local], program.dim)[0] @ before
            grad[pindex[symbol]] += 2.0 * np.real(np.sum(lam.conj() * (states @ d_full.T)))
    return grad, lam @ unitary.conj()


@pytest.mark.parametrize("n,depth,seed", [(1, 4, 0), (3, 5, 1), (4, 6, 2), (5, 3, 3)])
def test_sweep_matches_dense_reference_to_1e12(n, depth, seed, monkeypatch):
    """Random circuits (rotations, linear forms, repeated symbols, ZZ/CZ powers, fixed gates) plus U3
    layers and CNOT rings (the chunked rotation stages), every path, to 1e-12: shared unitary with the
    stored states and with un-computed ones, batched, per-sample, and the input gradient."""
    import qaudit.engine.statevector as sv

    rng = np.random.default_rng(seed)
    circuit, qubits, names = random_circuit(n, depth, rng)
    params = [sympy.Symbol(s) for s in names]
    for layer in range(2):  # U3-like layers + CNOT ring: chunked stages with shared symbols
        for q in range(n):
            circuit.append([cirq.rz(params[(q + layer) % len(params)])(qubits[q]),
                            cirq.ry(1.3 * params[(2 * q + 1) % len(params)] - 0.2)(qubits[q])])
        circuit.append(cirq.CNOT(qubits[q], qubits[(q + 1) % n]) for q in range(n) if n > 1)
    program = Program.from_circuit(circuit, qubits, names)
    obs = PauliObservables(pauli_terms(n, rng) if n > 1 else ["Z0", "X0", "Y0"], n)
    theta = rng.normal(size=len(names))
    for real in (True, False):
        states = random_states(7, n, rng, real)
        w = rng.normal(size=(7, len(obs)))
        want, want_x = dense_gradient(program, theta, obs, states, w)
        for method, save in (("unitary", True), ("unitary", False), ("batched", True)):
            monkeypatch.setattr(sv, "SAVE_BYTES", 1 << 27 if save else 0)
            _, cache = forward(program, theta, obs, states=states, method=method)
            grad, grad_x = backward(cache, w, input_grad=True)
            np.testing.assert_allclose(grad, want, rtol=0, atol=1e-12)
            np.testing.assert_allclose(grad_x, want_x, rtol=0, atol=1e-12)
            per, _ = backward(cache, w, per_sample=True)
            np.testing.assert_allclose(per.sum(axis=0), want, rtol=0, atol=1e-12)


def test_resolve_plan_matches_per_block_evaluation():
    """The stacked evaluation (ResolvePlan) gives the same unitaries and the same D = dV·V^H as the
    per-factor matrices and prefix/suffix derivative products, to 1e-13."""
    from qaudit.engine.plan import ResolvedBlock, resolve

    rng = np.random.default_rng(11)
    circuit, qubits, names = random_circuit(5, 8, rng)
    program = Program.from_circuit(circuit, qubits, names)
    theta = rng.normal(size=len(names))
    resolved = resolve(program, theta)
    plan = resolved.plan
    assert plan.groups and not plan.other
    pindex = {s: i for i, s in enumerate(names)}
    for pos, block in enumerate(program.blocks):
        values = [theta[pindex[f.form.symbol]] if f.form is not None else 0.0 for f in block.factors]
        old = ResolvedBlock(block, values)
        np.testing.assert_allclose(resolved[pos].unitary, old.unitary, rtol=0, atol=1e-13)
        if pos not in plan.block_items:
            continue
        d, items = plan.block_items[pos]
        new_d = sorted(zip(plan.pidx[d][items].tolist(), resolved.dmats[d][items]), key=lambda t: t[0])
        old_d = sorted(((pindex[s], m @ old.unitary.conj().T) for s, m in old.derivatives()), key=lambda t: t[0])
        assert [i for i, _ in new_d] == [i for i, _ in old_d]
        for (_, a), (_, b) in zip(new_d, old_d):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


def test_input_dependent_blocks_take_the_per_block_path():
    """Angle-encoded gates stay outside the plan (per-sample matrices); gradients still match the dense
    per-sample reference through the batched sweep."""
    from qaudit.engine.plan import resolve

    rng = np.random.default_rng(3)
    circuit, qubits, names = random_circuit(4, 4, rng, features=("x0", "x1"))
    circuit.append(cirq.ry(sympy.Symbol("x1") * 0.7)(qubits[2]))
    program = Program.from_circuit(circuit, qubits, names, ("x0", "x1"))
    features = rng.normal(size=(3, 2))
    theta = rng.normal(size=len(names))
    assert resolve(program, theta, features).plan.other
    obs = PauliObservables(pauli_terms(4, rng), 4)
    ev, cache = forward(program, theta, obs, features=features)
    w = rng.normal(size=ev.shape)
    grad, _ = backward(cache, w)
    per, _ = backward(cache, w, per_sample=True)
    for i in range(3):  # each sample has its own unitary: its own batch of one
        _, c1 = forward(program, theta, obs, features=features[i:i + 1])
        g1, _ = backward(c1, w[i:i + 1])
        np.testing.assert_allclose(per[i], g1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(per.sum(axis=0), grad, rtol=0, atol=1e-12)


def test_scratch_pool_never_hands_out_a_live_result():
    """Two forward passes in a row keep distinct ψ (the first is still referenced by its cache)."""
    rng = np.random.default_rng(0)
    circuit, qubits, names = random_circuit(4, 3, rng)
    program = Program.from_circuit(circuit, qubits, names)
    obs = PauliObservables([f"Z{q}" for q in range(4)], 4)
    theta = rng.normal(size=len(names))
    x1, x2 = random_states(40, 4, rng, True).real, random_states(40, 4, rng, True).real
    _, c1 = forward(program, theta, obs, states=x1, method="unitary")
    psi1 = c1.psi.copy()
    _, c2 = forward(program, theta, obs, states=x2, method="unitary")
    assert not np.shares_memory(c1.psi, c2.psi)
    np.testing.assert_array_equal(c1.psi, psi1)
    w = rng.normal(size=(40, 4))
    g1, _ = backward(c1, w)
    lam_first = obs.cotangent(c1.psi, w)
    g2, _ = backward(c2, w)
    assert not np.shares_memory(lam_first, obs.cotangent(c2.psi, w))
    want, _ = dense_gradient(program, theta, obs, x1.astype(np.complex128), w)
    np.testing.assert_allclose(g1, want, rtol=0, atol=1e-12)
