"""The built-in commands, one module per command family.

Each module parses its options, calls one workflow function and renders the result; it
adds its commands with ``register_commands(app)`` -- the same signature as the plugin hook
``register_commands`` -- called by :mod:`qaudit.cli.app` in the order of ``MODULES``.
"""

MODULES = ("train", "evaluate", "leak", "unlearn", "shots", "backend_info", "importing", "listing", "audit_dp")
