"""The `alerting` command: run · check · replay · routes test."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime

from alerting import __version__, logs
from alerting.config import ConfigError, load_config
from alerting.dispatch.route import build_route_tree, routes_test_output
from alerting.durations import parse_duration
from alerting.labels import MatchType, parse_matchers
from alerting.replay import Line, Progress, count_evaluations, parse_time, replay
from alerting.rules.group import Environment
from alerting.service import Loaded, Service, datasource_from, load_everything, tune_gc
from alerting.store import StoreError


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alerting", description=__doc__)
    parser.add_argument("--version", action="version", version=f"alerting {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="evaluate rules and serve the API")
    run.add_argument("--config", required=True, help="path to the config file")
    run.add_argument("--log-format", choices=["json", "human"], default="json")
    run.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="info")
    run.set_defaults(func=_run)

    check = sub.add_parser("check", help="validate the config, rule files and templates")
    check.add_argument("--config", required=True)
    check.set_defaults(func=_check)

    rep = sub.add_parser("replay", help="evaluate the rules over a past time range")
    rep.add_argument("--config", required=True)
    rep.add_argument("--start", required=True, help="RFC 3339 or Unix seconds")
    rep.add_argument("--end", required=True, help="RFC 3339 or Unix seconds")
    rep.add_argument("--step", help="evaluation step for every group (default: each interval)")
    rep.add_argument("--format", choices=["json", "table"], default="json")
    rep.set_defaults(func=_replay)

    routes = sub.add_parser("routes", help="inspect the routing tree")
    routes_sub = routes.add_subparsers(required=True, metavar="COMMAND")
    test = routes_sub.add_parser(
        "test", help="print the receivers an alert with these labels reaches (as amtool)"
    )
    test.add_argument("--config", required=True)
    test.add_argument(
        "--verify.receivers",
        dest="verify",
        help="comma-separated receivers expected; exit 1 if they differ",
    )
    test.add_argument("labels", nargs="*", metavar="name=value")
    test.set_defaults(func=_routes_test)
    return parser


def _run(args: argparse.Namespace) -> int:
    logs.setup(args.log_format, args.log_level)
    tune_gc()
    try:
        service = Service(args.config)
    except ConfigError as exc:
        _print_problems(exc)
        return 1
    try:
        asyncio.run(service.run_until_signalled())
    except (OSError, StoreError) as exc:  # a port in use, an unwritable or foreign database
        print(f"alerting run: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def _check(args: argparse.Namespace) -> int:
    try:
        loaded = load_everything(args.config)
    except ConfigError as exc:
        _print_problems(exc)
        return 1
    rules = sum(len(g.rules) for g in loaded.groups)
    print(f"SUCCESS: {len(loaded.groups)} rule groups, {rules} rules")
    return 0


def _routes_test(args: argparse.Namespace) -> int:
    try:
        labels = _label_args(args.labels)
        config = load_config(args.config)
    except ValueError as exc:
        print(f"alerting routes test: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        _print_problems(exc)
        return 1
    if config.route is None:
        print("alerting routes test: the config has no route", file=sys.stderr)
        return 1
    output = routes_test_output(build_route_tree(config.route), labels)
    print(output, end="")
    if args.verify is not None and output.rstrip("\n") != args.verify:
        print("WARNING: Expected receivers did not match resolved receivers.", file=sys.stderr)
        return 1
    return 0


def _label_args(args: list[str]) -> dict[str, str]:
    """`name=value` arguments, parsed as amtool parses them (quotes allowed, `=` only)."""
    labels: dict[str, str] = {}
    for arg in args:
        matchers = parse_matchers(arg)
        if len(matchers) != 1 or matchers[0].type is not MatchType.EQUAL:
            raise ValueError(f"labels must be specified as key=value pairs: {arg!r}")
        labels[matchers[0].name] = matchers[0].value
    return labels


def _print_problems(exc: ConfigError) -> None:
    for problem in exc.problems:
        print(problem)
    print(f"FAILED: {len(exc.problems)} problem(s)", file=sys.stderr)


def _replay(args: argparse.Namespace) -> int:
    try:
        start, end = parse_time(args.start), parse_time(args.end)
        step = parse_duration(args.step) if args.step else None
        loaded = load_everything(args.config)
    except ValueError as exc:
        print(f"alerting replay: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        _print_problems(exc)
        return 1
    if end < start:
        print("alerting replay: --end is before --start", file=sys.stderr)
        return 2
    return asyncio.run(_replay_async(args, loaded, start, end, step))


async def _replay_async(
    args: argparse.Namespace, loaded: Loaded, start: float, end: float, step: float | None
) -> int:
    config = loaded.config
    prometheus = config.datasource.prometheus
    progress = Progress(count_evaluations(loaded.groups, start, end, step))
    async with datasource_from(prometheus) as client:
        env = Environment(
            query=client.query,
            external_labels=dict(config.global_.external_labels),
            external_url=prometheus.external_url or prometheus.url,
        )
        lines = replay(loaded.groups, env, start, end, step, on_error=_warn, on_step=progress.step)
        async for line in lines:
            print(_format(line, args.format))
    progress.close()
    return 0


def _warn(ts: float, group: str, rule: str, message: str) -> None:
    print(f"{_iso(ts)} group {group!r} rule {rule!r}: {message}", file=sys.stderr)


def _format(line: Line, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(line.as_json())
    labels = ",".join(f"{k}={v}" for k, v in sorted(line.labels.items()) if k != "alertname")
    return f"{_iso(line.ts)}  {line.group:<16} {line.rule:<24} {line.state:<8} {line.value:<12g} {labels}"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


if __name__ == "__main__":
    sys.exit(main())
