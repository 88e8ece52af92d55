"""``python -m dlor ...`` (and ``torchrun ... -m dlor reproduce ...``): the ``dlor`` command."""

from ._cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
