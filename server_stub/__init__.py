"""server_stub package."""
