"""The plan's JSON Schema; installed as the package `graphdiff.schemas`."""
