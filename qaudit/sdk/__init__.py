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
    "hookimpl": "qaudit.sdk.hookspecs",
    "Register": "qaudit.sdk.hookspecs",
    # the host
    "get_host": "qaudit.sdk.host",
    "Host": "qaudit.sdk.host",
    "PluginInfo": "qaudit.sdk.host",
    # errors
    "QauditError": "qaudit.sdk.errors",
    "PluginError": "qaudit.sdk.errors",
    "JobFailed": "qaudit.sdk.errors",
    # limits
    **{name: "qaudit.sdk.limits" for name in _LIMITS},
    # progress
    "Progress": "qaudit.sdk.progress",
    "RichProgress": "qaudit.sdk.progress",
    "SILENT": "qaudit.sdk.progress",
    # protocols and data types
    **{name: "qaudit.sdk.protocols" for name in _PROTOCOLS},
    "Dataset": "qaudit.files.data",
    "load_dataset": "qaudit.files.data",
    # querying a model through a backend
    "predict_proba": "qaudit.run.query",
    "basis_distribution": "qaudit.run.query",
    # the circuit-classifier base class and its training pieces
    "CircuitClassifier": "qaudit.train.classifier",
    "LOSSES": "qaudit.train.classifier",
    "NESTEROV_TRAINING": "qaudit.train.classifier",
    "cross_entropy_grad": "qaudit.train.classifier",
    "OPTIMIZERS": "qaudit.train.training",
    "SGD": "qaudit.train.training",
    "Adam": "qaudit.train.training",
    "make_optimizer": "qaudit.train.training",
    "fit_standardize": "qaudit.files.preprocessing",
    "fit_pca": "qaudit.files.preprocessing",
    "apply_preprocessing": "qaudit.files.preprocessing:apply",
    # model files: validated arrays, the portable form, save/load
    "ModelFile": "qaudit.files.model_file",
    "load_model_file": "qaudit.files.model_file:load",
    "save_model_file": "qaudit.files.model_file:save",
    "portable": "qaudit.files.model_file",
    "from_portable": "qaudit.files.model_file",
    "encode_array": "qaudit.files.arrays:encode",
    "decode_array": "qaudit.files.arrays:decode",
    # reports
    "Report": "qaudit.report.results",
    "Table": "qaudit.report.results",
    "Plot": "qaudit.report.results",
    "Series": "qaudit.report.results",
    "Curve": "qaudit.report.results",
    "Finding": "qaudit.report.results",
    "fmt": "qaudit.report.results",
    "dump_json": "qaudit.report.gating",
    # safe readers and writers
    "check_regular_file": "qaudit.files.io",
    "read_text_limited": "qaudit.files.io",
    "read_json_limited": "qaudit.files.io",
    "read_npz_limited": "qaudit.files.io",
    "write_text_atomic": "qaudit.files.io",
    "write_json_atomic": "qaudit.files.io",
    "make_out_dir": "qaudit.report.destinations",
    # content-addressed cache and checkpoints
    "content_key": "qaudit.files.checkpoints",
    "cache_root": "qaudit.files.checkpoints",
    "read_model_entry": "qaudit.files.checkpoints",
    "write_model_entry": "qaudit.files.checkpoints",
    "save_piece": "qaudit.files.checkpoints",
    # batches of jobs and executors
    "job_seeds": "qaudit.run.parallel",
    "run_jobs": "qaudit.run.parallel:run",
    "using_executor": "qaudit.run.parallel:using",
    "open_executor": "qaudit.run.parallel",
    "scheduler_from_env": "qaudit.run.parallel",
    "SingleThreaded": "qaudit.run.parallel",
    "in_job_order": "qaudit.run.parallel",
    "job_failure": "qaudit.run.parallel:failure",
    "plugin_of": "qaudit.run.parallel",
    "signals_held": "qaudit.cli.boundary",
}

__all__ = sorted(_NAMES)

__getattr__, __dir__ = _exports(__name__, _NAMES)
