"""Running the gateway\x27s listeners."""
