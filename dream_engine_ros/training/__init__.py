"""Training world models from recordings: the data, the shared loop, the trainers (generic: no environment)."""
