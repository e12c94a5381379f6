"""The command line: parse options, call one library function, map errors to exit statuses.

Data goes to standard output (or -o), messages to standard error. Exit 0 done, 1 internal
error, 2 bad input or usage (a full disk under standard output too), 3 a policy check
(--require) failed or a verified tensor differs, 141 quietly when the reader of standard output
went away (`graphdiff show plan.json | head -1`), as a shell expects.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from graphdiff import __version__
from graphdiff.console import MARKS, Closed, GuardedStream, can_print
from graphdiff.errors import BadInput, GraphdiffError, PolicyViolation


class _Parser(argparse.ArgumentParser):
    """Usage errors are one line on standard error and exit 2, like every other bad input."""

    _commands: dict = {}  # command name -> its parser (set on the top-level parser)

    def error(self, message: str):
        self.exit(2, f"graphdiff: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="graphdiff",
        description="Restore a TensorFlow checkpoint into a graph that has changed.",
    )
    parser.add_argument("--version", action="version", version=f"graphdiff {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    parser._commands = commands.choices

    plan = commands.add_parser(
        "plan",
        help="diff old and new graph into a JSON restore plan",
        usage="graphdiff plan [options] [NAME=]OLD [[NAME=]OLD ...] NEW",
    )
    plan.add_argument(
        "paths",
        nargs="+",
        metavar="[NAME=]OLD ... NEW",
        help="OLD: the old graph's .meta (its checkpoint beside it), a checkpoint prefix, "
        "a .weights.h5 or .keras, a tf.keras 2 .h5, or a SavedModel directory; several, each "
        "as NAME=OLD, in the order that settles which fills a variable both can. NEW: a .py "
        "that builds the new TF1 graph or defines build_model(), or a .meta",
    )
    plan.add_argument("-o", "--output", help="write the plan here instead of standard output")
    plan.add_argument(
        "--checkpoint",
        action="append",
        metavar="[NAME=]PREFIX",
        help="checkpoint prefix, if not OLD's (NAME=PREFIX for a named source; repeatable)",
    )
    plan.add_argument(
        "--old-model",
        action="append",
        metavar="[NAME=]OLD.py",
        help="the .py whose build_model() builds the model OLD's weights were saved from "
        "(NAME=OLD.py for a named source; repeatable)",
    )
    plan.add_argument(
        "--same-architecture",
        action="store_true",
        help="OLD's weights were saved from the architecture NEW builds (NEW is --old-model)",
    )
    plan.add_argument("--output-prefix", metavar="PREFIX", help="where apply will write")
    plan.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="[NAME:]OLD=NEW",
        help="old scope prefix (or regex) -> new one (of source NAME only); repeatable",
    )
    plan.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="[NAME:]REGEX",
        help="initialize new variables whose name matches (NAME: source NAME gives them "
        "nothing); repeatable",
    )
    plan.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="[NAME:]REGEX",
        help="exit 3 unless every new variable matching it is restored (from source NAME)",
    )
    plan.add_argument(
        "--reset-optimizer",
        action="store_true",
        help="initialize optimizer slots, optimizer state and global_step",
    )
    plan.add_argument(
        "--cast", action="store_true", help="restore across float dtypes (float16 <-> float32 ...)"
    )
    plan.add_argument(
        "--grow",
        action="store_true",
        help="restore into a variable whose dimensions grew or shrank: copy the leading block, "
        "initialize the rest",
    )
    plan.add_argument(
        "--names-only",
        action="store_true",
        help="match by name and user rules only, no structural matching",
    )
    plan.add_argument(
        "--no-config",
        action="store_true",
        help="ignore [tool.graphdiff] in pyproject.toml and graphdiff.toml",
    )
    _verbose(plan)

    render = commands.add_parser("render", help="draw a plan (.svg, .png, .pdf or .dot)")
    render.add_argument("plan")
    render.add_argument("-o", "--output", required=True, help="picture file; format by extension")
    _view_options(render)
    render.add_argument(
        "--no-flow",
        action="store_true",
        help="no data-flow edges: do not read (or run) the graph files the plan names",
    )
    _relocation_options(render)

    show = commands.add_parser("show", help="print a plan as a table, or as markdown")
    show.add_argument("plan")
    show.add_argument(
        "--format", choices=("text", "markdown"), default="text", help="default: text"
    )
    _view_options(show)

    apply = commands.add_parser("apply", help="write a checkpoint for the new graph")
    apply.add_argument("plan")
    apply.add_argument("--output", metavar="PREFIX", help="checkpoint prefix to write")
    apply.add_argument("--force", action="store_true", help="replace a checkpoint at the prefix")
    apply.add_argument(
        "--shards",
        type=_positive,
        metavar="N",
        help="write N data files (default: as many as the source checkpoint has)",
    )
    apply.add_argument(
        "--verify",
        action="store_true",
        help="read the written checkpoint back and check every tensor's bytes before "
        "publishing it (what was written is what was meant; see --verify-outputs)",
    )
    apply.add_argument(
        "--verify-outputs",
        action="store_true",
        help="before publishing, run 'graphdiff verify' on the written checkpoint: old and new "
        "graph on the same inputs, shared tensors compared (what was meant computes as before)",
    )
    apply.add_argument("--quiet", action="store_true", help="no progress on standard error")
    _relocation_options(apply)
    apply.add_argument(
        "--report", metavar="FILE", help="write what was done (or why not) as JSON to FILE"
    )
    _verbose(apply)
    _verify_parser(commands)
    return parser


def _relocation_options(command) -> None:
    """Where the plan's inputs are now, if they moved: the same flags for every command that
    reads them (apply, render; verify names the old checkpoint --old-checkpoint)."""
    command.add_argument(
        "--checkpoint",
        action="append",
        metavar="[NAME=]PREFIX",
        help="where the plan's checkpoint is now, if it moved; its .meta moves with it "
        "(NAME=PREFIX: source NAME's; repeatable)",
    )
    command.add_argument(
        "--new-graph", metavar="FILE", help="where the plan's new-graph file is now, if it moved"
    )


def _verbose(command) -> None:
    command.add_argument(
        "--verbose",
        action="store_true",
        help="show the warnings and log lines the new graph's code printed while it was built",
    )


def _verify_parser(commands) -> None:
    verify = commands.add_parser(
        "verify",
        help="run old and new graph on the same inputs; the tensors they share must be equal",
    )
    verify.add_argument("plan")
    verify.add_argument(
        "--checkpoint", metavar="PREFIX", help="the checkpoint to verify (default: the plan's)"
    )
    verify.add_argument(
        "--old-checkpoint",
        action="append",
        metavar="[NAME=]PREFIX",
        help="where the plan's (old) checkpoint is now, if it moved; its .meta moves with it "
        "(NAME=PREFIX: source NAME's; repeatable)",
    )
    verify.add_argument(
        "--new-graph", metavar="FILE", help="where the plan's new-graph file is now, if it moved"
    )
    verify.add_argument(
        "--old-model",
        action="append",
        metavar="[NAME=]FILE",
        help="where the plan's --old-model .py is now, if it moved (NAME=FILE for a named "
        "source; repeatable)",
    )
    verify.add_argument(
        "--tensor",
        action="append",
        default=[],
        metavar="NEW[=OLD]",
        help="compare this tensor of the new graph (with OLD, or the old tensor it equals) "
        "instead of the shared frontier; repeatable",
    )
    verify.add_argument(
        "--feed",
        action="append",
        default=[],
        type=_feed,
        metavar="NAME=FILE.npy",
        help="feed this array to input NAME of the new graph (and its old pair); repeatable",
    )
    verify.add_argument(
        "--input",
        action="append",
        default=[],
        type=_input_pair,
        metavar="NEW=OLD",
        help="feed new input NEW and old input OLD the same array; repeatable",
    )
    verify.add_argument("--atol", type=float, metavar="X", help="absolute tolerance")
    verify.add_argument("--rtol", type=float, metavar="Y", help="relative tolerance")
    verify.add_argument("--format", choices=("text", "json"), default="text")


def _feed(text: str) -> tuple[str, str]:
    name, equals, path = text.partition("=")
    if not equals or not name or not path:
        raise argparse.ArgumentTypeError(f"{text!r}: give NAME=FILE.npy")
    return name, path


def _input_pair(text: str) -> tuple[str, str]:
    new, equals, old = text.partition("=")
    if not equals or not new or not old:
        raise argparse.ArgumentTypeError(f"{text!r}: give NEW=OLD (an input of each graph)")
    return new, old


def _view_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--depth",
        type=_positive,
        metavar="N",
        help="draw scopes down to N levels below the top (or the focus), each in its own box",
    )
    parser.add_argument(
        "--focus",
        metavar="SCOPE",
        help="open one scope (of either graph; its last parts suffice, e.g. block3)",
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value


def _plan(args) -> int:
    from graphdiff.config import RepoRules, find_rules
    from graphdiff.overwrites import refuse_over, refuse_overwrite
    from graphdiff.plan import Options
    from graphdiff.plan_io import dumps, plan_directory
    from graphdiff.planning import make_plan
    from graphdiff.text_output import check_text_target, write_text
    from graphdiff.view.summary import format_summary

    rules = RepoRules() if args.no_config else find_rules()
    options = Options(
        maps=rules.maps + tuple(args.map),
        excludes=rules.excludes + tuple(args.exclude),
        requires=rules.requires + tuple(args.require),
        reset_optimizer=rules.reset_optimizer or args.reset_optimizer,
        structural=not args.names_only,
        rules_file=rules.path,
        cast=args.cast,
        grow=args.grow,
    )
    old, new = _plan_inputs(args.paths)
    checkpoint, old_model = _per_source(old, args.checkpoint, args.old_model)
    if args.same_architecture:
        old_model = _same_architecture(old, new, old_model)
    if args.output is not None:
        check_text_target(args.output)
        refuse_over(args.output, _plan_input_files(old, new, checkpoint, old_model))
    status, message, messages = 0, None, []
    try:
        plan = make_plan(
            old,
            new,
            checkpoint=checkpoint,
            old_model=old_model,
            output_prefix=args.output_prefix,
            options=options,
            messages=messages,
        )
    except PolicyViolation as violation:
        plan, status, message = violation.plan, violation.exit_status, str(violation)
    refuse_overwrite(args.output, plan)
    # Only a plan file knows where it lies: paths relative to it; on standard output, absolute.
    text = dumps(plan, base=plan_directory(args.output) if args.output else None)
    if args.output:
        write_text(args.output, text)
    else:
        sys.stdout.write(text)
    print(format_summary(plan), file=sys.stderr)
    _print_messages(messages, args.verbose)
    if message:
        print(f"graphdiff: {message}", file=sys.stderr)
    return status


def _plan_inputs(paths: list[str]):
    """OLD (a path, or NAME -> path in order) and NEW from `plan`'s positional arguments."""
    from graphdiff.named_sources import command_line_sources

    if len(paths) < 2:
        raise BadInput("plan", "give OLD and NEW (graphdiff plan [NAME=]OLD ... NEW)")
    olds = command_line_sources(paths[:-1])
    if olds[0][0] is None:
        return olds[0][1], paths[-1]
    return dict(olds), paths[-1]


def _per_source(old, checkpoints, old_models):
    """--checkpoint and --old-model: one path for one unnamed OLD, else NAME -> path."""
    from graphdiff.named_sources import per_source, single_value

    if isinstance(old, str):
        return single_value(checkpoints, "--checkpoint"), single_value(old_models, "--old-model")
    names = list(old)
    return per_source(checkpoints, names, "--checkpoint"), per_source(
        old_models, names, "--old-model"
    )


def _same_architecture(old, new: str, old_model):
    """--same-architecture: NEW is OLD's model too (one OLD, given no --old-model)."""
    if not isinstance(old, str):
        raise BadInput(
            "--same-architecture",
            "is for one OLD; with several, give --old-model NAME=NEW.py to those it fits",
        )
    if old_model is not None:
        raise BadInput("--same-architecture", "and --old-model both name OLD's model: give one")
    if old.endswith(".meta"):
        raise BadInput(
            "--same-architecture",
            f"is for Keras weights and object-based checkpoints; {old} carries its own graph",
        )
    if not new.endswith(".py"):
        raise BadInput(
            new, "--same-architecture takes NEW as OLD's model: it must be a .py that builds it"
        )
    return new


def _plan_input_files(old, new, checkpoint, old_model) -> list[tuple[str, str]]:
    """The files `plan -o` must not replace, with what each is to the user."""
    if isinstance(old, str):
        return [
            ("the old graph's file", old),
            ("the new graph's file", new),
            ("the old checkpoint (--checkpoint)", checkpoint),
            ("the old model's file (--old-model)", old_model),
        ]
    found = [("the new graph's file", new)]
    for name, path in old.items():
        found += [
            (f"the old graph's file of source {name}", path),
            (f"the old checkpoint of source {name} (--checkpoint)", checkpoint.get(name)),
            (f"the old model's file of source {name} (--old-model)", old_model.get(name)),
        ]
    return found


def _print_messages(messages: list[str], verbose: bool) -> None:
    """The new graph's own warnings: all of them with --verbose, else how many were kept back."""
    if verbose:
        for line in messages:
            print(f"  new graph: {line}", file=sys.stderr)
    elif messages:
        print(
            f"  {len(messages)} warning(s) from building the new graph not shown (--verbose)",
            file=sys.stderr,
        )


def _render(args) -> int:
    from graphdiff.apply.fingerprints import with_inputs_at
    from graphdiff.named_sources import relocations
    from graphdiff.overwrites import refuse_over
    from graphdiff.plan_io import read_plan
    from graphdiff.view.render import render_plan

    refuse_over(args.output, [("the plan being rendered", args.plan)])
    plan = read_plan(args.plan)
    if args.checkpoint or args.new_graph:
        moved = relocations(plan, args.checkpoint, "--checkpoint")
        plan = with_inputs_at(plan, moved, args.new_graph)
    written = render_plan(
        plan,
        args.output,
        depth=args.depth,
        focus=args.focus,
        flow=not args.no_flow,
        on_note=lambda text: print(f"graphdiff: {text}", file=sys.stderr),
    )
    print(written)
    return 0


def _show(args) -> int:
    from graphdiff.plan_io import read_plan
    from graphdiff.view.diffview import build_view
    from graphdiff.view.show import format_plan

    view = build_view(read_plan(args.plan), depth=args.depth, focus=args.focus)
    sys.stdout.write(format_plan(view, args.format, ascii_only=not can_print(MARKS)))
    return 0


def _apply(args) -> int:
    from graphdiff.apply.apply_report import reporting
    from graphdiff.apply.executor import apply_plan
    from graphdiff.apply.fingerprints import with_inputs_at
    from graphdiff.named_sources import relocations
    from graphdiff.plan_io import read_plan
    from graphdiff.source_verify import SourcesCheck
    from graphdiff.verify import OutputsCheck, OutputsDiffer

    messages: list[str] = []
    try:
        with reporting(args.report, args.plan) as report:
            plan = read_plan(args.plan)
            moved = relocations(plan, args.checkpoint, "--checkpoint")
            plan = with_inputs_at(plan, moved, args.new_graph)
            report.begin(plan, args.plan, args.output)
            check = None
            if args.verify_outputs:
                several = len(plan.provenance.old_sources) > 1
                check = (SourcesCheck if several else OutputsCheck)(plan, args.plan, args.output)
            prefix = apply_plan(
                plan,
                output_prefix=args.output,
                force=args.force,
                plan_path=args.plan,
                shards=args.shards,
                verify=args.verify,
                quiet=args.quiet,
                messages=messages,
                after_write=check,
            )
            report.done(plan, prefix, verified=args.verify)
    except OutputsDiffer as differ:
        return _report_verify(differ.report, "text")
    if args.verbose:
        _print_messages(messages, verbose=True)
    print(prefix)
    if check is not None and not args.quiet:
        print(f"graphdiff: verify: {check.summary}", file=sys.stderr)
    return 0


def _verify(args) -> int:
    from graphdiff.named_sources import relocations
    from graphdiff.plan_io import read_plan
    from graphdiff.verify import verify_plan

    for flag, given in (("--feed", args.feed), ("--input", args.input)):
        names = [name for name, _ in given]
        twice = next((name for name in names if names.count(name) > 1), None)
        if twice is not None:
            raise BadInput(flag, f"{twice}: given more than once")
    plan = read_plan(args.plan)
    moved = relocations(plan, args.old_checkpoint, "--old-checkpoint")
    old_models = relocations(plan, args.old_model, "--old-model")
    if len(plan.provenance.old_sources) > 1:
        return _verify_sources(args, plan, moved, old_models)
    report = verify_plan(
        plan,
        args.checkpoint,
        tensors=args.tensor,
        feeds=dict(args.feed),
        inputs=dict(args.input),
        atol=args.atol,
        rtol=args.rtol,
        plan_path=args.plan,
        old_checkpoint=moved,
        new_graph=args.new_graph,
        old_model=old_models,
    )
    return _report_verify(report, args.format)


def _verify_sources(args, plan, moved, old_models) -> int:
    """verify for several sources: each source's part against its own old graph."""
    from graphdiff.source_verify import first_failure, sources_json, sources_text, verify_sources

    for flag, given in (("--tensor", args.tensor), ("--input", args.input)):
        if given:
            what = "tensors" if flag == "--tensor" else "inputs"
            raise BadInput(flag, f"names {what} of one old graph; this plan has several sources")
    verdicts = verify_sources(
        plan,
        args.checkpoint,
        feeds=dict(args.feed),
        atol=args.atol,
        rtol=args.rtol,
        plan_path=args.plan,
        old_checkpoint=moved or None,
        new_graph=args.new_graph,
        old_model=old_models or None,
    )
    sys.stdout.write(sources_json(verdicts) if args.format == "json" else sources_text(verdicts))
    failure = first_failure(verdicts)
    if failure:
        sys.stdout.flush()
        print(f"graphdiff: {failure}", file=sys.stderr)
        return 3
    return 0


def _report_verify(report, form: str) -> int:
    import json

    from graphdiff.verify import failure_line, format_text

    if form == "json":
        sys.stdout.write(json.dumps(report.to_json(), indent=2, allow_nan=False) + "\n")
    else:
        sys.stdout.write(format_text(report))
    if report.verdict == "differs":
        sys.stdout.flush()
        print(f"graphdiff: {failure_line(report)}", file=sys.stderr)
        return 3
    return 0


COMMANDS = {
    "plan": _plan,
    "render": _render,
    "show": _show,
    "apply": _apply,
    "verify": _verify,
}


PIPE_CLOSED = 141  # 128 + SIGPIPE: what a shell expects of a writer whose reader left


class _Terminated(BaseException):
    """SIGTERM, raised where Python runs next so that cleanup (staging, reports) happens."""


def _terminate(signum, frame) -> None:
    raise _Terminated


def main(argv: list[str] | None = None) -> int:
    """Run one command; every command's output goes through the same guarded streams."""
    streams = sys.stdout, sys.stderr
    sys.stdout = GuardedStream(sys.stdout, "standard output")
    sys.stderr = GuardedStream(sys.stderr, "standard error")
    try:
        return _run(argv)
    finally:
        sys.stdout, sys.stderr = streams


def _parse(argv: list[str] | None):
    """The arguments; `plan`'s OLDs and NEW may stand on either side of its options
    (`plan a=x.meta --map ... b=y.meta new.py`), which argparse leaves over after the first run."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    flags = [text for text in extra if text.startswith("-")]
    if flags or (extra and args.command != "plan"):
        command = parser._commands.get(args.command, parser)  # its --help lists its options
        command.error(f"unrecognized arguments: {' '.join(flags or extra)}")
    if extra:
        args.paths += extra
    return args


def _run(argv: list[str] | None) -> int:
    from graphdiff.source_date import settle_source_date_epoch

    try:
        args = _parse(argv)
    except Closed:
        return PIPE_CLOSED
    _reserve_for_output(args)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        settle_source_date_epoch(used=args.command == "plan")  # before TensorFlow's import
        status = COMMANDS[args.command](args)
        sys.stdout.flush()  # a full disk or a closed pipe shows here, not at exit
        return status
    except Closed:
        return PIPE_CLOSED
    except _Terminated:
        return _fail("terminated", 143)
    except BadInput as error:
        return _fail(error, error.exit_status)
    except GraphdiffError as error:
        return _fail(error, error.exit_status)
    except ImportError as error:
        return _fail(error, 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as error:  # one line, not a traceback; GRAPHDIFF_DEBUG=1 shows it
        if os.environ.get("GRAPHDIFF_DEBUG"):
            raise
        return _fail(f"internal error: {type(error).__name__}: {error}", 1)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _reserve_for_output(args) -> None:
    """A plan (-o) or report (--report) going to our own standard output or error has that
    stream to itself: nothing else is printed there (main() puts the streams back)."""
    from graphdiff.text_output import standard_stream

    target = getattr(args, "report", None) if args.command == "apply" else None
    if args.command == "plan":
        target = args.output
    descriptor = standard_stream(target)
    if descriptor == 1:
        sys.stdout = _Discard()
    elif descriptor == 2:
        sys.stderr = _Discard()


class _Discard:
    """A text stream that keeps nothing, for a standard stream a file was written into."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _fail(error, status: int) -> int:
    """One line on standard error (none when it cannot be written: the status still tells)."""
    text = " ".join(str(error).split())
    try:
        print(f"graphdiff: {text}", file=sys.stderr)
        sys.stderr.flush()
    except (Closed, GraphdiffError):
        pass
    return status


if __name__ == "__main__":
    sys.exit(main())
