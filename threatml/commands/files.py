"""`threatml` commands of the files domain (work in progress)."""
