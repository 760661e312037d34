"""Flowlane: plain words to durable, serverless AI workflows.

The shared layer every Lambda function imports. Import order is upward-free:
models <- engine/nodes <- store <- api; only `store` and `runtime` touch boto3.
"""

__version__ = "0.1.0"
