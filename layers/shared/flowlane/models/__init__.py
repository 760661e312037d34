"""Pydantic v2 models of CONTRACT.md, one module per domain."""
