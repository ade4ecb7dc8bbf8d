"""The `alerting` command: run · check · replay · routes test · alerts · ack · unack · suppress."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from alerting import __version__, logs
from alerting.client import DEFAULT_URL, TOKEN_ENV, URL_ENV, Client, ClientError
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

    alerts = sub.add_parser("alerts", help="list the current alerts of a running daemon")
    alerts.add_argument("--status", help="firing, pending, resolved, suppressed or acknowledged")
    alerts.add_argument("--severity", help="value of the severity label")
    alerts.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="MATCHERS",
        help='label matchers such as \'{team="db",alertname=~"Disk.*"}\'; repeatable',
    )
    alerts.add_argument("-o", "--output", choices=["table", "json"], default="table")
    _client_arguments(alerts)
    alerts.set_defaults(func=_alerts)
    _incident_commands(sub)
    return parser


def _incident_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ack = sub.add_parser("ack", help="acknowledge an alert: its escalation and repeats stop")
    ack.add_argument("fingerprint", help="the alert's, as `alerting alerts` lists it")
    ack.add_argument("--comment", default="", help="what you are doing about it")
    ack.add_argument(
        "--expires-in",
        metavar="DURATION",
        help="how long the ack holds, such as 2h or 3600 (seconds); default: until it resolves",
    )
    _client_arguments(ack)
    ack.set_defaults(func=_ack)

    unack = sub.add_parser("unack", help="withdraw an alert's acknowledgement")
    unack.add_argument("fingerprint")
    _client_arguments(unack)
    unack.set_defaults(func=_unack)

    suppress = sub.add_parser("suppress", help="silence exactly this alert for a while")
    suppress.add_argument("fingerprint")
    suppress.add_argument("--minutes", type=int, required=True, help="1 to 1440")
    suppress.add_argument("--comment", default="")
    _client_arguments(suppress)
    suppress.set_defaults(func=_suppress)


def _client_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help=f"the daemon (default: ${URL_ENV} or {DEFAULT_URL})")
    parser.add_argument("--token-file", help=f"file with a bearer token (default: ${TOKEN_ENV})")
    parser.add_argument("--ca-file", help="CA certificate that signed an https daemon's")


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


def _alerts(args: argparse.Namespace) -> int:
    for matchers in args.filter:
        try:
            parse_matchers(matchers)
        except ValueError as exc:
            print(f"alerting alerts: --filter {matchers!r}: {exc}", file=sys.stderr)
            return 2
    try:
        client = Client.configured(args.url, args.token_file, args.ca_file)
        alerts = list(
            client.alerts(status=args.status, severity=args.severity, filters=args.filter)
        )
    except ClientError as exc:
        print(f"alerting alerts: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(alerts, indent=2) if args.output == "json" else alerts_table(alerts))
    return 0


def _ack(args: argparse.Namespace) -> int:
    expires = args.expires_in
    expires_in = int(expires) if expires is not None and expires.isdigit() else expires

    def call(client: Client) -> str:
        ack = client.acknowledge(args.fingerprint, comment=args.comment, expires_in=expires_in)
        line = f"acknowledged {args.fingerprint} as {ack.get('acknowledged_by')}"
        return line + (f" until {ack['expires_at']}" if ack.get("expires_at") else "")

    return _call_daemon("ack", args, call)


def _unack(args: argparse.Namespace) -> int:
    def call(client: Client) -> str:
        client.unacknowledge(args.fingerprint)
        return f"unacknowledged {args.fingerprint}"

    return _call_daemon("unack", args, call)


def _suppress(args: argparse.Namespace) -> int:
    def call(client: Client) -> str:
        answer = client.suppress(args.fingerprint, args.minutes, comment=args.comment)
        minutes = f"{args.minutes} minute{'s' if args.minutes != 1 else ''}"
        return f"silenced {args.fingerprint} for {minutes}: silence {answer.get('silenceID')}"

    return _call_daemon("suppress", args, call)


def _call_daemon(command: str, args: argparse.Namespace, call: Callable[[Client], str]) -> int:
    """Print what `call` did, or its failure as one line on stderr and exit 1."""
    try:
        print(call(Client.configured(args.url, args.token_file, args.ca_file)))
    except ClientError as exc:
        print(f"alerting {command}: {exc}", file=sys.stderr)
        return 1
    return 0


ALERT_COLUMNS = ("FINGERPRINT", "STATUS", "SEVERITY", "ALERTNAME", "SINCE", "SUMMARY")


def alerts_table(alerts: list[dict]) -> str:
    """Columns padded to their widest cell, as amtool and kubectl print; the last is not."""
    rows = [ALERT_COLUMNS, *(_alert_row(alert) for alert in alerts)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(ALERT_COLUMNS))]
    widths[-1] = 0
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _alert_row(alert: dict) -> tuple[str, ...]:
    labels = alert.get("labels") or {}
    annotations = alert.get("annotations") or {}
    return (
        str(alert.get("fingerprint", "")),
        str(alert.get("status") or alert.get("state", "")),  # `state`: a Prometheus-only server
        labels.get("severity", ""),
        labels.get("alertname", ""),
        _since(str(alert.get("activeAt", ""))),
        " ".join(str(annotations.get("summary", "")).split()),  # one line per alert
    )


def _since(rfc3339: str) -> str:
    """To the second, in UTC: Go's nanoseconds and offsets add nothing for people."""
    try:
        moment = datetime.fromisoformat(rfc3339).astimezone(UTC)
    except ValueError:
        return rfc3339
    return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


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
