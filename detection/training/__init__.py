"""Training of the multi-task detector (never imported by the inference core)."""
