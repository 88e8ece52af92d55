"""The ``dlor`` command line: one module per subcommand."""

from .._errors import DLoRError


class CLIError(DLoRError):
    """A user error the CLI reports as one line, without a traceback."""
