"""The command line: the Typer app, the error boundary, configuration and one module per command."""
