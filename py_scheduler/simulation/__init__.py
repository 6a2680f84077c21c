"""Offline scheduling of a cluster snapshot with the live scheduler's code."""
