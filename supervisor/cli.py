"""The ``loadtest-supervisor`` command: parse arguments, load settings, run.

It exits with one of ``exit_codes.ExitCode``; argparse's own usage errors exit 2 too.

Every spawned load worker imports this module again (multiprocessing runs the parent's
main script, the console script, in each child), so it imports at the top only what
parsing the arguments needs; loading settings and running import their modules in
``run``. A worker that imported them too paid 0.05 to 0.1 s of CPU for nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from loadtest_supervisor import __version__
from loadtest_supervisor.config.durations import duration_seconds
from loadtest_supervisor.config.errors import ConfigError
from loadtest_supervisor.exit_codes import ExitCode

if TYPE_CHECKING:
    from loadtest_supervisor.config.plugin_settings import PluginSettings


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 1")
    return value


def _seconds(text: str) -> float:
    try:
        return duration_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loadtest-supervisor",
        description="Run an HTTP load test on this machine, or as a node of a cluster "
        "(CLUSTER_ENABLED=true). Settings come from --config YAML and environment variables. "
        "'loadtest-supervisor submit|status --cluster URL ...' talks to a running cluster.",
    )
    parser.add_argument("--config", metavar="FILE", help="YAML test plan (and cluster: settings)")
    parser.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="load worker processes (default: LOADTEST_WORKERS, load.workers, or the CPU count)",
    )
    parser.add_argument("--out", metavar="FILE", help="write the results as JSON to FILE")
    parser.add_argument(
        "--csv",
        metavar="PREFIX",
        help="write the results as Locust-compatible CSV files PREFIX_stats.csv, "
        "PREFIX_history.csv (one row a second) and PREFIX_failures.csv",
    )
    parser.add_argument(
        "--report",
        metavar="FILE",
        help="write the results as one self-contained HTML report to FILE (charts included, "
        "nothing fetched when it is opened)",
    )
    parser.add_argument(
        "--linger",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="standalone: keep the HTTP API up this long after the run, serving its final "
        "/results (default 0; a duration such as 30s or 5m works too)",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the effective configuration (secrets masked) and exit",
    )
    parser.add_argument(
        "--demo-target",
        action="store_true",
        help="start the built-in demo HTTP server on 127.0.0.1 and aim the test at it",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


# Commands a person runs against a cluster's HTTP API; without one, this machine runs.
CLIENT_COMMANDS = ("submit", "status")


def build_client_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loadtest-supervisor",
        description="Talk to a running cluster through any node's HTTP API.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    submit = commands.add_parser(
        "submit", help="submit a plan; with --wait, follow its run to the cluster's verdict"
    )
    submit.add_argument("plan", metavar="PLAN.yaml", help="the test plan")
    submit.add_argument(
        "--wait",
        action="store_true",
        help="follow the run and exit as a standalone run would (0 passed, 1 failed)",
    )
    submit.add_argument("--out", metavar="FILE", help="with --wait: write the results as JSON")
    submit.add_argument(
        "--csv",
        metavar="PREFIX",
        help="with --wait: write the results as Locust-compatible CSV files "
        "(PREFIX_stats.csv, PREFIX_history.csv, PREFIX_failures.csv)",
    )
    submit.add_argument(
        "--report", metavar="FILE", help="with --wait: write the results as an HTML report"
    )
    status = commands.add_parser("status", help="the cluster, its plan and its run")
    status.add_argument("--watch", action="store_true", help="follow the run in progress")
    for command in (submit, status):
        command.add_argument(
            "--cluster",
            required=True,
            metavar="URL[,URL...]",
            help="a node's HTTP API (CLUSTER_HEALTH_ADDR), e.g. http://10.0.0.5:8080; "
            "give several to go on if one dies",
        )
        command.add_argument(
            "--token",
            default=os.environ.get("CLUSTER_API_TOKEN"),
            help="the cluster's API token (default: CLUSTER_API_TOKEN)",
        )
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in CLIENT_COMMANDS:
        sys.exit(run_client(build_client_parser().parse_args(argv)))
    args = build_parser().parse_args(argv)
    sys.exit(run(args))


def run_client(args: argparse.Namespace) -> int:
    """``submit`` or ``status``: a client of a cluster, never a node of it."""
    from rich.console import Console

    from loadtest_supervisor.client.cluster_api import ApiError, ClusterApi
    from loadtest_supervisor.client.status import status
    from loadtest_supervisor.client.submit import submit
    from loadtest_supervisor.results.outputs import outputs_problem

    console = Console()
    try:
        api = ClusterApi(args.cluster, args.token)
    except ApiError as exc:
        print(f"loadtest-supervisor {args.command}: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    try:
        if args.command == "submit":
            asked = (("--out", args.out), ("--csv", args.csv), ("--report", args.report))
            for flag, given in asked:
                if given and not args.wait:
                    print(f"loadtest-supervisor submit: {flag} needs --wait", file=sys.stderr)
                    return ExitCode.CONFIG
            problem = outputs_problem(args.csv, args.report)
            if problem:
                print(f"loadtest-supervisor submit: {problem}", file=sys.stderr)
                return ExitCode.CONFIG
            return submit(
                api, args.plan, args.wait, args.out, console, args.csv, report=args.report
            )
        return status(api, args.watch, console)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED


def _plugin_settings() -> list[PluginSettings]:
    """The installed plugins' settings; called only in cluster mode (it imports them)."""
    from loadtest_supervisor.plugin_manager import PluginError, declared_settings

    try:
        return declared_settings()
    except PluginError as exc:
        raise ConfigError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from loadtest_supervisor.config.loading import load_settings
    from loadtest_supervisor.config.rendering import render_effective_config

    if args.csv is not None or args.report is not None:
        from loadtest_supervisor.results.outputs import outputs_problem

        problem = outputs_problem(args.csv, args.report)
        if problem:
            print(f"loadtest-supervisor: {problem}", file=sys.stderr)
            return ExitCode.CONFIG
    demo = None
    if args.demo_target:
        from loadtest_supervisor.demo.process import DemoTarget

        demo = DemoTarget.start()
    try:
        overrides = {"workers": args.workers} if args.workers else {}
        if demo is not None:
            overrides["target_url"] = demo.url
        try:
            settings = load_settings(args.config, os.environ, overrides, _plugin_settings)
        except ConfigError as exc:
            print(f"loadtest-supervisor: configuration error\n{exc}", file=sys.stderr)
            return ExitCode.CONFIG
        if args.print_config:
            print(render_effective_config(settings), end="")
            return ExitCode.OK
        warnings = list(settings.warnings)
        if args.linger and settings.node.enabled:
            warnings.append("--linger is for standalone runs; a cluster node's API stays up")
        elif args.linger and not settings.node.http_api:
            warnings.append("--linger does nothing with the HTTP API off (HTTP_API_ENABLED)")
        for flag, given in (("--csv", args.csv), ("--report", args.report)):
            if given and settings.node.enabled:
                warnings.append(
                    f"{flag} is for standalone runs and 'submit --wait'; a node writes none"
                )
        for warning in warnings:
            print(f"loadtest-supervisor: warning: {warning}", file=sys.stderr)
        if settings.node.enabled:
            # Imported here so that standalone runs never import a cluster module.
            from loadtest_supervisor.cluster.node import run_cluster_node
            from loadtest_supervisor.event_loop import run_loop

            return run_loop(run_cluster_node(settings, log_level=args.log_level))
        # Imported here so that --help and config errors stay fast.
        from loadtest_supervisor.standalone import run_standalone

        return run_standalone(
            settings,
            out_path=args.out,
            log_level=args.log_level,
            linger=args.linger,
            csv_prefix=args.csv,
            report_path=args.report,
        )
    finally:
        if demo is not None:
            demo.stop()


if __name__ == "__main__":
    main()
