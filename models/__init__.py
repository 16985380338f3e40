"""The desk's models: definitions, walk-forward training and the registry (ARCHITECTURE.md: Models). Nothing here
imports graph/, desk/, tools/, Slack or an LLM SDK: models take plain pandas/numpy inputs.

Entry points for the wiring (tools/ and the CLI):
- ``models.inputs.ModelInputs.from_view(market)``: the four frames every model reads, from a MarketView;
- ``models.train.train_all(registry, inputs, as_of, names=None, progress=None)``: what ``desk train`` runs;
  ``models.train.walk_forward(...)`` / ``summarise(...)``: out-of-sample folds beside naive baselines;
- ``models.registry.ModelRegistry(root)``: ``snapshot()`` (pin once per run), ``snapshot().usable(name, D,
  sessions)`` (which promoted version may serve D, or why none), ``snapshot().table()`` (``desk models``);
- ``models.api.ModelService(registry, inputs)``: typed inference - ``regime(AsOfArgs)``, ``health(SymbolsArgs)``,
  ``direction(SymbolsArgs)``, ``mean_reversion(SymbolsArgs)``, ``availability(name, D)``.
Models: ``regime`` (GRU + Transformer ensemble), ``health`` (autoencoder), ``direction`` (dense + CfC/AutoNCP),
``mean_reversion`` (LightGBM); see ``models.catalog.CATALOG``.
"""
