"""Storage, the only package that speaks SQL: schema and migrations (`schema`, `views`), one module per
subject (`documents`, `dossiers`, `annotations`, `search`, `stories`, `runs`, `locks`, `health`,
`digests`), the one clock (`clock`) and transactions (`transaction`). Plain values in and out; no HTTP or NLP."""
