"""Carrying out a plan: `executor` checks and writes, the rest are its parts.

`fingerprints` refuses changed inputs; `targets` checks the plan against the new graph;
`transfer` carries restored tensors over as bytes; `initializer_deps` and `initial_values`
compute the initialized ones; `written` reads the output back (`--verify`); `checkpoint_files`
and `remote_files` publish it whole; `progress` and `apply_report` tell a person or a pipeline.
The tensor bundle format itself is `graphdiff.bundle`.
"""
