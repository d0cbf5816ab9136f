"""Storage: schema and migrations, writes (upserts, versions), reads (queries). Plain dicts in, no HTTP or NLP."""
