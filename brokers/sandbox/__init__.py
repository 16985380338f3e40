"""A small web trading app on 127.0.0.1 for the Selenium web broker to drive, with faults switchable at run time.

``serve(port=0, prices=..., faults="slow,rerender")`` returns a running SandboxServer (``.url``, ``.book``,
``.set_faults()``, ``.stop()``); ``python -m brokers.sandbox --port 0 --faults ...`` runs one from the shell.
"""

from brokers.otp import totp
from brokers.sandbox.auth import SandboxCredentials
from brokers.sandbox.faults import FaultError, Faults
from brokers.sandbox.server import SandboxServer, serve

__all__ = ["FaultError", "Faults", "SandboxCredentials", "SandboxServer", "serve", "totp"]
