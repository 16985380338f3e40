"""The one error a user's request can end in below the shell: bad input or an impossible request.

It carries a one-line message that says what to do; the command line shows it as is, with exit code 2, and the
request has changed nothing. The shell's own errors (``desk.errors``) derive from it.
"""


class DeskError(Exception):
    """Bad input or an impossible request: shown as one line, exit code 2, nothing changed."""
