"""Matchers: each pairs variables of the new graph with checkpoint keys, adding to one result."""
