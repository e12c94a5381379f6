"""The command line: parse options, call one library function, map errors to exit statuses.

Data goes to standard output (or -o), messages to standard error. Exit 0 done, 1 internal
error, 2 bad input or usage, 3 a policy check (--require) failed.
"""

from __future__ import annotations

import argparse
import os
import sys

from graphdiff import __version__
from graphdiff.errors import BadInput, GraphdiffError, PolicyViolation


class _Parser(argparse.ArgumentParser):
    """Usage errors are one line on standard error and exit 2, like every other bad input."""

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

    plan = commands.add_parser("plan", help="diff old and new graph into a JSON restore plan")
    plan.add_argument("old", help="the old graph's .meta (its checkpoint prefix is the same path)")
    plan.add_argument("new", help="new_graph.py that builds the new graph, or a .meta")
    plan.add_argument("-o", "--output", help="write the plan here instead of standard output")
    plan.add_argument("--checkpoint", metavar="PREFIX", help="checkpoint prefix, if not OLD's")
    plan.add_argument("--output-prefix", metavar="PREFIX", help="where apply will write")
    plan.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="old scope prefix (or regex) -> new one; repeatable",
    )
    plan.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="REGEX",
        help="initialize new variables whose name matches; repeatable",
    )
    plan.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="REGEX",
        help="exit 3 unless every new variable matching it is restored",
    )
    plan.add_argument(
        "--reset-optimizer",
        action="store_true",
        help="initialize optimizer slots, optimizer state and global_step",
    )
    plan.add_argument(
        "--names-only",
        action="store_true",
        help="match by name and user rules only, no structural matching",
    )

    render = commands.add_parser("render", help="draw a plan (.svg, .png, .pdf or .dot)")
    render.add_argument("plan")
    render.add_argument("-o", "--output", required=True, help="picture file; format by extension")
    _view_options(render)
    render.add_argument(
        "--no-flow",
        action="store_true",
        help="no data-flow edges: do not read (or run) the graph files the plan names",
    )

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
        help="read the written checkpoint back and check every tensor before publishing it",
    )
    apply.add_argument("--quiet", action="store_true", help="no progress on standard error")
    return parser


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
    from graphdiff.plan import Options
    from graphdiff.plan_io import dumps, write_text_atomically
    from graphdiff.planning import make_plan
    from graphdiff.summary import format_summary

    options = Options(
        maps=tuple(args.map),
        excludes=tuple(args.exclude),
        requires=tuple(args.require),
        reset_optimizer=args.reset_optimizer,
        structural=not args.names_only,
    )
    if args.output and not os.path.isdir(os.path.dirname(os.path.abspath(args.output))):
        raise BadInput(args.output, "its directory does not exist")
    status, message = 0, None
    try:
        plan = make_plan(
            args.old,
            args.new,
            checkpoint=args.checkpoint,
            output_prefix=args.output_prefix,
            options=options,
        )
    except PolicyViolation as violation:
        plan, status, message = violation.plan, violation.exit_status, str(violation)
    text = dumps(plan)
    if args.output:
        write_text_atomically(args.output, text)
    else:
        sys.stdout.write(text)
    print(format_summary(plan), file=sys.stderr)
    if message:
        print(f"graphdiff: {message}", file=sys.stderr)
    return status


def _render(args) -> int:
    from graphdiff.plan_io import read_plan
    from graphdiff.render import render_plan

    written = render_plan(
        read_plan(args.plan),
        args.output,
        depth=args.depth,
        focus=args.focus,
        flow=not args.no_flow,
        on_note=lambda text: print(f"graphdiff: {text}", file=sys.stderr),
    )
    print(written)
    return 0


def _show(args) -> int:
    from graphdiff.diffview import build_view
    from graphdiff.plan_io import read_plan
    from graphdiff.show import format_plan

    view = build_view(read_plan(args.plan), depth=args.depth, focus=args.focus)
    sys.stdout.write(format_plan(view, args.format))
    return 0


def _apply(args) -> int:
    from graphdiff.executor import apply_plan
    from graphdiff.plan_io import read_plan

    plan = read_plan(args.plan)
    prefix = apply_plan(
        plan,
        output_prefix=args.output,
        force=args.force,
        plan_path=args.plan,
        shards=args.shards,
        verify=args.verify,
        quiet=args.quiet,
    )
    print(prefix)
    return 0


COMMANDS = {"plan": _plan, "render": _render, "show": _show, "apply": _apply}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
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


def _fail(error, status: int) -> int:
    text = " ".join(str(error).split())
    print(f"graphdiff: {text}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
