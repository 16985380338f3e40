"""Slack at the edge: Block Kit formatting (``format``), the outbox writer and the run reporter (``reporter``), the
sender that delivers the outbox (``sender``), and the Bolt app for commands and buttons (``app``). Only ``desk/``
imports slack_sdk and slack_bolt."""
