"""One module per source; each exposes its class as ``SOURCE`` (registered in crawler/registry.py)."""
