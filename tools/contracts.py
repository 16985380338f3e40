"""Moved to ``vocab`` (the lowest floor): ``vocab.terms`` and ``vocab.contracts``. This re-export lets a branch
written before the move rebase and run; nothing in the repository imports it, and it goes once those land."""

from vocab.contracts import *  # noqa: F403  -- the transition re-export described above
from vocab.terms import *  # noqa: F403  -- the transition re-export described above
