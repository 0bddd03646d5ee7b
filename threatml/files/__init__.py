"""Static file analysis: file types, hashes, PE header and EMBER-style features, YARA.

Nothing here runs the file. See ``docs/files.md``.
"""
