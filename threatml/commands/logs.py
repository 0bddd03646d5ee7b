"""`threatml` commands of the logs domain (work in progress)."""
