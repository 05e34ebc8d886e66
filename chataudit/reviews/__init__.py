"""Peer review, self-scoring, calibration, customer ratings and disputes of service sessions."""
