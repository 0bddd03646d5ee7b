"""`threatml` commands of the fraud domain (work in progress)."""
