"""The tools nodes call: market data, features, weather, agent signals, risk rules. No graph, Slack or LLM imports."""
