"""Reproducible performance runs of linkback on loopback (``make bench``); not tests."""
