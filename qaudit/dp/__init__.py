"""Differential privacy: DP-SGD training through model protocol members, its accountant, and
one-run privacy audits (Steinke, Nasr & Jagielski 2023). One job per module:

* :mod:`qaudit.dp.spec` -- the ``--dp`` option (target epsilon or noise multiplier), validated;
* :mod:`qaudit.dp.accounting` -- the privacy accountant (Google's ``dp-accounting``, imported lazily);
* :mod:`qaudit.dp.sgd` -- DP-SGD: Poisson sampling, per-sample clipping, Gaussian noise;
* :mod:`qaudit.dp.canaries` -- canaries for one-run audits and their seeded inclusion;
* :mod:`qaudit.dp.one_run` -- the one-run epsilon lower bound (the paper's Theorem 3.1 / Appendix D);
* :mod:`qaudit.dp.audit` -- the ``qaudit audit-dp`` workflow and its report.

See docs/dp.md for what is guaranteed and what is audited.
"""
