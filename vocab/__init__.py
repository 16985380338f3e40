"""The desk's vocabulary, on the lowest floor: every organ (models, tools, brokers, memory), the graph, the evals and
the shell import it; it imports nothing of the desk's own.

``vocab.terms`` spells each concept once (``Regime``, ``Side``, the statuses, the hard rules' names);
``vocab.contracts`` holds the typed records passed between the organs and the graph (``Proposal``, ``Verdict``,
``Intent``, ...). ARCHITECTURE.md says where each floor lives.
"""
