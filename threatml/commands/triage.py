"""`threatml` commands of the triage domain (work in progress)."""
