"""The node catalogue (CONTRACT.md section 3): one module per node type, a registry, templates."""
