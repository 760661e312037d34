"""The HTTP layer: one app factory shared by every domain, auth, the error envelope, routers."""
