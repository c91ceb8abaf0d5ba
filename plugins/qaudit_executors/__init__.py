"""Built-in executors: where batches of independent jobs run.

``serial`` runs them one after another in this process (role ``inline``), ``local`` in worker
processes on this machine's cores (role ``default``), ``dask`` on a Dask cluster -- a running
scheduler (``--scheduler tcp://host:8786`` / ``$QAUDIT_SCHEDULER``, role ``scheduler``) or, without
one, a ``LocalCluster`` it starts. Dask is imported only when the ``dask`` executor opens, so it is an
optional extra (``pip install "qaudit[dask]"``).
"""

from __future__ import annotations

from qaudit.sdk import hookimpl

QAUDIT_API = "2"


@hookimpl
def register_executors(register):
    from qaudit_executors.dask_executor import DaskExecutor
    from qaudit_executors.local import LocalExecutor, SerialExecutor

    for cls in (SerialExecutor, LocalExecutor, DaskExecutor):
        register(cls)
