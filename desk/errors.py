"""Domain errors a user may see. Each carries a one-line message that says what to do."""


class DeskError(Exception):
    """Bad input or an impossible request: shown as one line, exit code 2, nothing changed."""


class ConfigError(DeskError):
    """The configuration is invalid (unknown key, wrong type, unwritable home)."""
