"""`threatml` commands of the identity domain (work in progress)."""
