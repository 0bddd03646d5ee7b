"""`threatml` commands of the email domain (work in progress)."""
