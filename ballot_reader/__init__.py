"""ballot_reader package."""
