"""`threatml` commands of the intel domain (work in progress)."""
