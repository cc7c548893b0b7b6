"""`studio batch`: many inputs, one job each, resumable, on this machine or a Ray cluster."""
