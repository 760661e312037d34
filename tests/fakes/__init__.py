"""Fakes of external services, played for real over HTTP on 127.0.0.1 (DESIGN.md: fakes over
mocks), reusable by tests and examples."""
