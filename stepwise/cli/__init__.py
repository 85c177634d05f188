"""Every `stepwise` command: the root group and its core commands in core.py, one module per area beside it."""

from stepwise.cli.core import main

__all__ = ["main"]
