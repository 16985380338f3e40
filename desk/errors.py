"""Domain errors a user may see. Each carries a one-line message that says what to do."""

from graph.errors import DeskError

__all__ = ["ConfigError", "DeskError"]


class ConfigError(DeskError):
    """The configuration is invalid (unknown key, wrong type, unwritable home)."""
