"""AWS clients, the embedded runtime, the dev server and the CLI."""
