"""`threatml` commands of the url domain (work in progress)."""
