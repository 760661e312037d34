"""DynamoDB repositories and S3 payload offload. Clients are injected; nothing here creates one."""
