"""One router per domain; `flowlane.api.domains` says which routers each Lambda serves."""
