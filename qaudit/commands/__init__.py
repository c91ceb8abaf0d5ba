"""Subcommand modules. Each module imports ``qaudit.cli.app`` and adds commands with
``@app.command``; ``qaudit.cli`` imports every module listed in ``MODULES`` that exists."""

MODULES = ("backends", "leak", "unlearn", "shots")
