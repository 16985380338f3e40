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
    if exc.errno == errno.ENAMETOOLONG:
        named = f" {shorten(str(exc.filename))}" if exc.filename else ""
        return f"a path is too long for the file system{named}: choose a shorter DESK_HOME (or --config path)"
    return None


def shorten(text: str, keep: int = 60) -> str:
    """A long path as one readable piece: its start and its end, with how much was left out."""
    if len(text) <= 2 * keep:
        return text
    return f"{text[:keep]}…({len(text) - 2 * keep} characters)…{text[-keep:]}"
