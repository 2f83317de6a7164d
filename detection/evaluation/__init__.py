"""Calibration and evaluation of the detectors (never imported by the inference core)."""
