"""``desk serve``: one long-running process with the scheduler (``schedule``), the Slack app and the outbox sender,
and HTTP ``/health`` and ``/metrics`` (``http``, ``metrics``); ``main`` wires them and stops them gracefully."""
