"""Crawling: the shared polite HTTP client, the source registry, one module per source, text extraction."""
