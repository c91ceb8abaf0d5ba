"""Built-in datasets: scikit-learn digits (default), MNIST from IDX files, CSV and NPZ files."""

from __future__ import annotations

from qaudit.sdk import hookimpl

QAUDIT_API = "2"


@hookimpl
def register_datasets(register):
    from qaudit_datasets.sources import MNIST, CSVFile, Digits, NPZFile

    for source in (Digits, MNIST, CSVFile, NPZFile):
        register(source)
