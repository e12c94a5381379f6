"""Shared harness of the `apply_*.py` benchmarks: `graphdiff apply` against its anchors.

A case (one per `apply_*.py`) gives the files that build its old and new graph. The harness
saves the old checkpoint and plans once (neither timed against anything), then runs each of
five contestants as a whole fresh process, interleaved (round r starts at the r-th contestant),
--repeat times, and takes medians:

    copy      shutil.copy of the source's .index, .data-* and .meta: the floor
    build     import TensorFlow and build the new graph, nothing else: the anchor to subtract
    apply     python -m graphdiff apply plan.json --quiet --force, into a fresh directory
    init      TensorFlow's own way: build the new graph, init_from_checkpoint(ckpt,
              {source: name} of the plan's restore entries), global_variables_initializer,
              Saver().save
    saver     build, Saver(var_list={source: variable, or its parts}).restore, the other
              variables' initializers, Saver().save

Each process's wall time and its own peak RSS (os.wait4 rusage, ru_maxrss; the driver is not
counted) are recorded, with its CPU time (user + system, and system alone: the kernel's share,
reads, writes and page faults) and the load average when it started. Before every run
its output directory is emptied and os.sync() flushes the previous run's writes; no contestant
fsyncs, so times are to the page cache, and the source checkpoint is warm in it for everyone.
After the runs (unless --no-check) one more process checks the outputs: every restored tensor
identical to its source in apply's, init's and saver's checkpoints, every variable present with
its planned dtype and shape, and a plain Saver().restore of apply's checkpoint in the new graph.
What the processes run is in _apply_children.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from _apply_children import BUILD, CHECK, COPY, INIT_FROM_CHECKPOINT, SAVER_RESTORE, SETUP

REPO = Path(__file__).resolve().parent.parent
MIB = 1 << 20
RSS_ALLOWANCE = 500_000_000  # issue 6: peak RSS within the largest tensor + 500 MB of `build`

# --- cases, contestants, runs ---------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """What a benchmark script supplies: files to write and how to plan."""

    name: str  # e.g. "resnet_v1_50 -> resnet_v1_101"
    files: dict[str, str]  # file name -> text; must hold old_graph.py and new_graph.py
    plan_args: tuple[str, ...] = ()  # more `graphdiff plan` arguments (--map ...)
    expect: tuple[int, int] | None = None  # (restored, initialized) the plan should have
    goals: tuple[str, ...] = ()  # issue 6's goals that apply: "faster_than_init", "near_copy"
    parameters: dict = field(default_factory=dict)  # recorded in the JSON


@dataclass(frozen=True)
class Contestant:
    key: str
    label: str
    command: tuple[str, ...]


@dataclass(frozen=True)
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds of the process
    sys: float  # of which system (kernel: reads, writes, page faults)
    peak_rss: int  # bytes (ru_maxrss of the process)
    load: float  # 1-minute load average when it started


def environment() -> dict[str, str]:
    """The same quiet TensorFlow for every process, and this checkout first on the import path."""
    env = dict(os.environ)
    env.update(TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0", PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def measure(command, cwd: Path, log: Path) -> Run:
    """Run a fresh process to completion: its wall time, CPU time and peak RSS (not ours)."""
    load = os.getloadavg()[0]
    with open(log, "w") as out:
        start = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=cwd, env=environment(), stdout=out, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if process.returncode != 0:
        sys.stderr.write(log.read_text()[-4000:])
        shown = " ".join("<script>" if "\n" in str(part) else str(part) for part in command)
        raise SystemExit(f"failed ({process.returncode}): {shown} (in {cwd}, log {log})")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, cpu, usage.ru_stime, usage.ru_maxrss * 1024, load)


LABELS = {
    "copy": "copy files (floor)",
    "build": "import TF + build graph",
    "apply": "graphdiff apply",
    "init": "init_from_checkpoint + save",
    "saver": "Saver(var_list).restore + save",
}
WRITERS = ("apply", "init", "saver")  # the contestants that write a checkpoint for the new graph


def contestants(work: Path, source: str) -> list[Contestant]:
    """The five commands, run in `work` (where new_graph.py and plan.json are)."""
    out = {key: str(work / "out" / key / "model.ckpt") for key in ("copy", "init", "saver")}
    python, graph, plan = sys.executable, "new_graph.py", "plan.json"
    commands = {
        "copy": (python, "-c", COPY, source, out["copy"]),
        "build": (python, "-c", BUILD, graph),
        "apply": (python, "-m", "graphdiff", "apply", plan, "--quiet", "--force"),
        "init": (python, "-c", INIT_FROM_CHECKPOINT, graph, plan, out["init"]),
        "saver": (python, "-c", SAVER_RESTORE, graph, plan, out["saver"]),
    }
    return [Contestant(key, LABELS[key], command) for key, command in commands.items()]


def fresh(directory: Path) -> None:
    """An empty output directory, and the previous run's writes flushed to disk."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.sync()


def time_all(work: Path, source: str, repeat: int) -> dict[str, list[Run]]:
    entrants = contestants(work, source)
    runs: dict[str, list[Run]] = {c.key: [] for c in entrants}
    for round_ in range(repeat):
        shift = round_ % len(entrants)
        for contestant in entrants[shift:] + entrants[:shift]:
            fresh(work / "out" / contestant.key)
            log = work / "logs" / f"{contestant.key}-{round_ + 1}.log"
            run = measure(contestant.command, work, log)
            runs[contestant.key].append(run)
            print(
                f"round {round_ + 1}: {contestant.label:31s} {run.wall:7.2f}s "
                f"{run.peak_rss / MIB:8.0f} MiB  (load {run.load:.1f})",
                flush=True,
            )
    return runs


# --- setup ----------------------------------------------------------------------------------


def setup(work: Path, case: Case) -> dict:
    """Write the case's files, save the old checkpoint, plan once; return the plan (as JSON)."""
    for name, text in case.files.items():
        (work / name).write_text(text)
    (work / "old").mkdir()
    (work / "logs").mkdir()
    where = subprocess.run(
        [sys.executable, "-c", "import graphdiff; print(graphdiff.__file__)"],
        env=environment(),
        cwd=work,
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(f"graphdiff from {Path(where).parent} ({environment_facts()['graphdiff_commit']})")
    print(f"setup in {work}: saving the old checkpoint ...", flush=True)
    start = time.perf_counter()
    saved = measure(
        (sys.executable, "-c", SETUP, "old_graph.py", str(work / "old" / "model.ckpt")),
        work,
        work / "logs" / "setup.log",
    )
    counts = json.loads((work / "logs" / "setup.log").read_text().strip().splitlines()[-1])
    print(f"  old graph: {counts['ops']} ops, {counts['variables']} variables; {saved.wall:.1f}s")
    plan_command = [sys.executable, "-m", "graphdiff", "plan", "old/model.ckpt.meta"]
    plan_command += ["new_graph.py", "-o", "plan.json", "--output-prefix", "out/apply/model.ckpt"]
    planned = measure([*plan_command, *case.plan_args], work, work / "logs" / "plan.log")
    print(f"  graphdiff plan: {planned.wall:.1f}s, {planned.peak_rss / MIB:.0f} MiB (not compared)")
    print(f"setup took {time.perf_counter() - start:.1f}s", flush=True)
    return json.loads((work / "plan.json").read_text())


def sizes(work: Path, plan: dict) -> dict:
    """Counts and byte sizes the report needs, from the plan and the files on disk."""
    import numpy as np

    def nbytes(entry) -> int:
        try:
            itemsize = np.dtype(entry["dtype"]).itemsize
        except TypeError:
            itemsize = 4
        return int(np.prod(entry["shape"] or ())) * itemsize

    variables = plan["variables"]
    data = (work / "old").glob("model.ckpt.data-*")
    return {
        "variables": len(variables),
        "restored": sum(e["action"] == "restore" for e in variables),
        "initialized": sum(e["action"] == "initialize" for e in variables),
        "partitioned": sum(bool(e.get("partitions")) for e in variables),
        "source_data_bytes": sum(path.stat().st_size for path in data),
        "output_bytes": sum(nbytes(e) for e in variables),
        "largest_tensor_bytes": max(nbytes(e) for e in variables),
    }


# --- the report -----------------------------------------------------------------------------


def medians(runs: dict[str, list[Run]]) -> dict[str, dict[str, float]]:
    return {
        key: {
            "wall": statistics.median(run.wall for run in rs),
            "cpu": statistics.median(run.cpu for run in rs),
            "sys": statistics.median(run.sys for run in rs),
            "peak_rss": statistics.median(run.peak_rss for run in rs),
        }
        for key, rs in runs.items()
    }


def ratios(m: dict[str, dict[str, float]], largest: int) -> dict[str, float]:
    """The figures issue 6 states its goals in, from this run's medians."""
    apply, init, saver, copy, build = (m[k] for k in ("apply", "init", "saver", "copy", "build"))
    return {
        "apply/init wall": apply["wall"] / init["wall"],
        "apply/init cpu": apply["cpu"] / init["cpu"],
        "apply/init rss": apply["peak_rss"] / init["peak_rss"],
        "apply/saver wall": apply["wall"] / saver["wall"],
        "apply/saver cpu": apply["cpu"] / saver["cpu"],
        "apply/saver rss": apply["peak_rss"] / saver["peak_rss"],
        "apply/copy wall": apply["wall"] / copy["wall"],
        "(apply-build)/copy wall": (apply["wall"] - build["wall"]) / copy["wall"],
        "apply-build rss bytes": apply["peak_rss"] - build["peak_rss"],
        "rss budget bytes": largest + RSS_ALLOWANCE,
    }


def goals(case: Case, r: dict[str, float]) -> dict[str, bool]:
    """Issue 6's 'done when' lines that apply to this case, each with whether it holds here."""
    found = {}
    if "faster_than_init" in case.goals:
        found["apply faster than init_from_checkpoint + save"] = r["apply/init wall"] < 1
        found["apply's peak RSS at most init_from_checkpoint's"] = r["apply/init rss"] <= 1
    if "near_copy" in case.goals:
        found["apply - import&build at most 2x the copy"] = r["(apply-build)/copy wall"] <= 2
        found["apply's peak RSS at most build's + largest tensor + 500 MB"] = (
            r["apply-build rss bytes"] <= r["rss budget bytes"]
        )
    return found


def print_table(runs: dict[str, list[Run]], m: dict[str, dict[str, float]]) -> None:
    """One row per contestant; the writers also net of `build`, and that against `copy`."""
    build, copy = m["build"], m["copy"]
    columns = ("wall s", 7), ("cpu s", 6), ("sys s", 6), ("RSS MiB", 8), ("-build s", 9)
    columns += ("/copy", 6), ("-build MiB", 10)
    print(" " * 31 + "".join(f" {name:>{width}s}" for name, width in columns) + "  runs: wall s")
    for key, label in LABELS.items():
        row = m[key]
        line = f"{label:31s} {row['wall']:7.2f} {row['cpu']:6.1f} {row['sys']:6.1f}"
        line += f" {row['peak_rss'] / MIB:8.0f}"
        if key in WRITERS:
            net = row["wall"] - build["wall"]
            rss = (row["peak_rss"] - build["peak_rss"]) / MIB
            line += f" {net:9.2f} {net / copy['wall']:5.1f}x {rss:10.0f}"
        else:
            line += " " * 27
        print(line + "  " + " ".join(f"{run.wall:.2f}" for run in runs[key]))


def print_report(case: Case, facts: dict, runs, m, r, found) -> None:
    print(
        f"\n{case.name}: {facts['variables']} variables ({facts['restored']} restored, "
        f"{facts['initialized']} initialized, {facts['partitioned']} partitioned); "
        f"source data {facts['source_data_bytes'] / MIB:.0f} MiB, "
        f"output {facts['output_bytes'] / MIB:.0f} MiB, "
        f"largest tensor {facts['largest_tensor_bytes'] / MIB:.1f} MiB"
    )
    loads = [run.load for rs in runs.values() for run in rs]
    print(
        f"{len(runs['apply'])} fresh process(es) each, interleaved, medians; "
        f"load average {min(loads):.1f}..{max(loads):.1f} on {os.cpu_count()} cores\n"
    )
    print_table(runs, m)
    largest = facts["largest_tensor_bytes"] / MIB
    print()
    for other, label in (("init", "init_from_checkpoint"), ("saver", "Saver(var_list).restore")):
        wall, cpu, rss = (r[f"apply/{other} {what}"] for what in ("wall", "cpu", "rss"))
        print(
            f"{'apply / ' + label + ':':36s} wall {wall:.2f}x, cpu {cpu:.2f}x, peak RSS {rss:.2f}x"
        )
    print(f"{'apply / copy:':36s} wall {r['apply/copy wall']:.1f}x")
    print(f"{'(apply - import&build) / copy:':36s} wall {r['(apply-build)/copy wall']:.1f}x")
    print(
        f"{'peak RSS of apply - import&build:':36s} {r['apply-build rss bytes'] / MIB:.0f} MiB "
        f"(largest tensor {largest:.1f} MiB; it + 500 MB = {r['rss budget bytes'] / MIB:.0f} MiB)"
    )
    for text, holds in found.items():
        print(f"issue 6 goal: {text}: {'yes' if holds else 'NO'}")


def result_line(key: str, m, r) -> str:
    return (
        f"RESULT case={key} apply={m['apply']['wall']:.2f}s init={m['init']['wall']:.2f}s "
        f"saver={m['saver']['wall']:.2f}s copy={m['copy']['wall']:.2f}s "
        f"build={m['build']['wall']:.2f}s apply/init={r['apply/init wall']:.2f} "
        f"(apply-build)/copy={r['(apply-build)/copy wall']:.1f} "
        f"rss_apply-build={r['apply-build rss bytes'] / MIB:.0f}MiB"
    )


def environment_facts() -> dict:
    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    commit = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "python": sys.version.split()[0],
        "tensorflow": version("tensorflow-cpu") or version("tensorflow"),
        "cpus": os.cpu_count(),
        "graphdiff_commit": commit,
    }


def write_json(path: str, case: Case, key: str, facts, runs, m, r, found) -> None:
    document = {
        "case": key,
        "name": case.name,
        "parameters": case.parameters,
        "environment": environment_facts(),
        "sizes": facts,
        "runs": {k: [vars(run) for run in rs] for k, rs in runs.items()},
        "medians": m,
        "ratios": r,
        "goals": found,
    }
    Path(path).write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {path}")


# --- the command line -----------------------------------------------------------------------


def parser(doc: str) -> argparse.ArgumentParser:
    """The options every apply_*.py takes; the script adds its own."""
    result = argparse.ArgumentParser(
        description=doc.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    result.add_argument("--quick", action="store_true", help="small sizes, 1 run each (~1 min)")
    result.add_argument("--repeat", type=_positive, help="runs of each contestant (3; --quick: 1)")
    result.add_argument("--workdir", metavar="DIR", help="work in a new directory under DIR")
    result.add_argument("--keep", action="store_true", help="keep the work directory")
    result.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    result.add_argument("--no-check", action="store_true", help="skip checking the outputs")
    return result


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return int(text)


def check(work: Path) -> None:
    outputs = [f"{key}={work / 'out' / key / 'model.ckpt'}" for key in WRITERS]
    command = (sys.executable, "-c", CHECK, "new_graph.py", "plan.json", *outputs)
    measure(command, work, work / "logs" / "check.log")  # exits, the log shown, on a fault
    for line in (work / "logs" / "check.log").read_text().splitlines():
        if line.startswith("check: "):
            print(line)


def run(key: str, case: Case, args: argparse.Namespace) -> int:
    """Set up, time, check, report; the work directory goes unless --keep."""
    repeat = args.repeat or (1 if args.quick else 3)
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"graphdiff-apply-{key}-", dir=args.workdir))
    try:
        plan = setup(work, case)
        facts = sizes(work, plan)
        if case.expect and case.expect != (facts["restored"], facts["initialized"]):
            print(
                f"note: the plan restores {facts['restored']} and initializes "
                f"{facts['initialized']}; expected {case.expect[0]} and {case.expect[1]}"
            )
        runs = time_all(work, plan["provenance"]["checkpoint_prefix"], repeat)
        if not args.no_check:
            check(work)
        m = medians(runs)
        r = ratios(m, facts["largest_tensor_bytes"])
        found = goals(case, r)
        print_report(case, facts, runs, m, r, found)
        if args.json:
            write_json(args.json, case, key, facts, runs, m, r, found)
        print(result_line(key, m, r))
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0
