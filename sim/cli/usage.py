"""The command line's usage error (its own module: every CLI module raises it)."""


class UsageError(Exception):
    """Bad command-line arguments (exit code 2)."""
