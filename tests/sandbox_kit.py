"""Sandbox test kit: a plain HTTP client that logs in and fills tickets, and a hostile string."""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request

from brokers.otp import totp
from brokers.sandbox import SandboxServer

HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


class Client:
    """A cookie-keeping HTTP client that does not raise on 4xx/5xx: ``(status, final url, body)``."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def call(self, path: str, data: dict[str, str] | None = None, json_body: object = None) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.server.url + path, data=body)
        if json_body is not None:
            req = urllib.request.Request(self.server.url + path, data=json.dumps(json_body).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with self.opener.open(req, timeout=10) as r:
                return r.status, r.url, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.url, e.read().decode()

    def login(self) -> None:
        c = self.server.credentials
        assert self.call("/login", {"user": c.user, "password": c.password})[0] == 200
        status, url, _ = self.call("/login/code", {"code": totp(c.totp_secret)})
        assert status == 200 and url.endswith("/portfolio")

    def ticket(self, **fields: str) -> tuple[int, str, str]:
        page = self.call("/trade")[2]
        token = re.search(r'name="token" value="([^"]+)"', page).group(1)
        form = {"symbol": "AAA", "side": "buy", "quantity": "2", "order_type": "market", "reference": "r-1",
                "token": token, **fields}
        return self.call("/orders", form)
