"""LLM providers (anthropic, openai and any OpenAI-compatible server) behind the overlay provider interface.

``clients`` builds the LangChain chat models (the SDK adapters), ``exchange`` makes one recorded structured call,
``budget`` prices and caps it, ``fields`` turns the desk's values into prompt fields, ``bounds`` turns a model's
answer into a recorded contract inside the overlay's bounds, ``provider`` puts them together per role.
"""
