"""Operations: the commands operators use from Slack or the command line (`desk ops …`), apart from transport.

``core`` parses, authorises, audits and echoes; ``read`` answers questions; ``overrides`` and ``runs`` change what
the desk does; ``results`` are the typed answers; ``render`` turns them into plain lines every transport shows.
"""
