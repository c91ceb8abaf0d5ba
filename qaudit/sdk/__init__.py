"""qaudit's plugin SDK: the one package a plugin imports.

Everything a plugin may use is named here (as ``pytest`` re-exports ``_pytest``): the hook marker, the
host, errors, limits, progress, every protocol and data type, the circuit-classifier base class, the
report types, the safe file readers and writers, the batch helpers and the model-file portable form.
Three sub-APIs sit beside it:

* :mod:`qaudit.sdk.engine` -- the exact state-vector engine, for backends and models that run circuits
  without Cirq;
* :mod:`qaudit.sdk.workflows` -- audit, shot study, training, evaluation and unlearning steps, for
  plugins that orchestrate whole experiments (``qaudit demo``, ``qaudit reproduce``);
* :mod:`qaudit.sdk.testing` -- the conformance kit and pytest fixtures.

``qaudit.sdk`` and its sub-APIs are covered by :data:`API_VERSION`: a name listed in an ``__all__`` here
changes meaning or goes away only with a new major version. Any other ``qaudit.*`` module is internal and
may move in any release; the command-line-equivalent Python API for scripts is :mod:`qaudit.api`.

Names are re-exported lazily (PEP 562): ``from qaudit.sdk import QauditError`` imports only the errors
module, so a plugin importing the SDK at top level keeps ``qaudit --help`` free of numpy and Cirq.
"""

from qaudit.sdk._lazy import exports as _exports

_PROTOCOLS = ("Attack", "AttackContext", "Backend", "Capabilities", "DatasetSource", "DeferredCircuit",
              "EnsembleModel", "ExecutionPlan", "Executor", "ExecutorSettings", "ImportRequest", "ImportedModel",
              "Importer", "Job", "Model", "Outputs", "PlanningBackend", "QuantumTask", "RecordedReferences",
              "Reporter", "SamplingBackend", "UnlearningCost", "UnlearningMethod", "UnlearningOutcome",
              "UnlearningRequest")

_LIMITS = ("MAX_BATCH_SIZE", "MAX_CIRQ_QUBITS", "MAX_CLASSES", "MAX_DATASET_NPZ_BYTES", "MAX_DENSITY_QUBITS",
           "MAX_EPOCHS", "MAX_FISHER_SAMPLES", "MAX_GOOGLE_QUBITS", "MAX_HIDDEN", "MAX_HQNN_LAYERS",
           "MAX_HQNN_QUBITS", "MAX_LAYERS", "MAX_LR", "MAX_MODEL_QUBITS", "MAX_NPZ_BYTES", "MAX_QNN_QUBITS",
           "MAX_QSIM_QUBITS", "MAX_REFERENCE_MODELS", "MAX_SEED", "MAX_SHARDS", "MAX_SHOTS", "MAX_SLICES",
           "MAX_STATEVECTOR_QUBITS", "MAX_STEPS", "MAX_WEIGHTS_BYTES", "MAX_Z_SAMPLES",
           "check_jobs", "check_option", "check_seed", "max_jobs")

#: name -> "module" (same name there) or "module:attribute".
_NAMES: dict[str, str] = {
    # versions and the hook marker
    "API_VERSION": "qaudit",
    "__version__": "qaudit",
    "hookimpl": "qaudit.hookspecs",
    "Register": "qaudit.hookspecs",
    # the host
    "get_host": "qaudit.plugins",
    "Host": "qaudit.plugins",
    "PluginInfo": "qaudit.plugins",
    # errors
    "QauditError": "qaudit.errors",
    "PluginError": "qaudit.errors",
    "JobFailed": "qaudit.errors",
    # limits
    **{name: "qaudit.limits" for name in _LIMITS},
    # progress
    "Progress": "qaudit.progress",
    "RichProgress": "qaudit.progress",
    "SILENT": "qaudit.progress",
    # protocols and data types
    **{name: "qaudit.protocols" for name in _PROTOCOLS},
    "Dataset": "qaudit.data",
    "load_dataset": "qaudit.data",
    # querying a model through a backend
    "predict_proba": "qaudit.query",
    "basis_distribution": "qaudit.query",
    # the circuit-classifier base class and its training pieces
    "CircuitClassifier": "qaudit.qnn",
    "LOSSES": "qaudit.qnn",
    "NESTEROV_TRAINING": "qaudit.qnn",
    "cross_entropy_grad": "qaudit.qnn",
    "OPTIMIZERS": "qaudit.training",
    "SGD": "qaudit.training",
    "Adam": "qaudit.training",
    "make_optimizer": "qaudit.training",
    "fit_standardize": "qaudit.preprocessing",
    "fit_pca": "qaudit.preprocessing",
    "apply_preprocessing": "qaudit.preprocessing:apply",
    # model files: validated arrays, the portable form, save/load
    "ModelFile": "qaudit.model",
    "load_model_file": "qaudit.model:load",
    "save_model_file": "qaudit.model:save",
    "portable": "qaudit.model",
    "from_portable": "qaudit.model",
    "encode_array": "qaudit.arrays:encode",
    "decode_array": "qaudit.arrays:decode",
    # reports
    "Report": "qaudit.results",
    "Table": "qaudit.results",
    "Plot": "qaudit.results",
    "Series": "qaudit.results",
    "Curve": "qaudit.results",
    "Finding": "qaudit.results",
    "fmt": "qaudit.results",
    "dump_json": "qaudit.gating",
    # safe readers and writers
    "check_regular_file": "qaudit.io",
    "read_text_limited": "qaudit.io",
    "read_json_limited": "qaudit.io",
    "read_npz_limited": "qaudit.io",
    "write_text_atomic": "qaudit.io",
    "write_json_atomic": "qaudit.io",
    "make_out_dir": "qaudit.outputs",
    # content-addressed cache and checkpoints
    "content_key": "qaudit.checkpoints",
    "cache_root": "qaudit.checkpoints",
    "read_model_entry": "qaudit.checkpoints",
    "write_model_entry": "qaudit.checkpoints",
    "save_piece": "qaudit.checkpoints",
    # batches of jobs and executors
    "job_seeds": "qaudit.parallel",
    "run_jobs": "qaudit.parallel:run",
    "using_executor": "qaudit.parallel:using",
    "open_executor": "qaudit.parallel",
    "scheduler_from_env": "qaudit.parallel",
    "SingleThreaded": "qaudit.parallel",
    "in_job_order": "qaudit.parallel",
    "job_failure": "qaudit.parallel:failure",
    "plugin_of": "qaudit.parallel",
    "signals_held": "qaudit.boundary",
}

__all__ = sorted(_NAMES)

__getattr__, __dir__ = _exports(__name__, _NAMES)
