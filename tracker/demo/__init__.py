"""`tracker demo`: a demonstration database built offline from recordings shipped in the package.

`replay` serves the recordings on loopback, `build` crawls them through the real sources, client and
NLP into a marked demo database, `cli` is the click command (cheap to import: nothing heavy is loaded
until it runs). See docs/demo.md.
"""
