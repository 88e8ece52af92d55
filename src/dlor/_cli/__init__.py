"""The ``dlor`` command line: one module per subcommand."""
