"""The matcher corpus: real nets and hand-written traps, each with the right source of every
variable. cases.py holds the cases, harness.py runs and scores them, report.py prints details."""
