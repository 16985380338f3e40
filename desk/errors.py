"""Domain errors a user may see. Each carries a one-line message that says what to do."""

from graph.errors import DeskError

__all__ = ["ConfigError", "DeskError"]


class ConfigError(DeskError):
    """The configuration is invalid (unknown key, wrong type, unwritable home)."""


def explain_os_error(exc: OSError) -> str | None:
    """One line for an operating-system error a user can act on (a full disk, a read-only folder), else None."""
    import errno

    where = f" {exc.filename}" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return (f"no space left writing{where} ({exc.strerror}): free space and run again "
                f"(a file being written is written whole or not at all)")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write{where} ({exc.strerror}): make DESK_HOME writable or point it elsewhere"
    return None
