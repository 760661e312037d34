"""Flowlane's CDK app: one construct per capability (docs/infrastructure.md)."""
