"""The ``atlas`` command. Each subcommand reads its settings from the environment at start and
stops with a one-line message naming the variable when one is missing or malformed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from atlas.errors import AtlasError

Command = Callable[[argparse.Namespace], int]


def _ingress(args: argparse.Namespace) -> int:
    from atlas.services import run_ingress

    return run_ingress(args.host, args.port)


def _api(args: argparse.Namespace) -> int:
    from atlas.services import run_api

    return run_api(args.host, args.port)


def _worker(_args: argparse.Namespace) -> int:
    from atlas.services import run_worker

    return run_worker()


def _sink(_args: argparse.Namespace) -> int:
    from atlas.services import run_sink

    return run_sink()


def _migrate(_args: argparse.Namespace) -> int:
    from atlas.services import run_migrate

    return run_migrate()


def _dev(args: argparse.Namespace) -> int:
    from atlas.dev import run_dev

    return run_dev(args.host, args.port, args.api_port)


def _catalog_apply(args: argparse.Namespace) -> int:
    from atlas.catalog_commands import apply_catalog

    return apply_catalog(args.file, args.reason, args.by, args.dry_run)


def _catalog_show(_args: argparse.Namespace) -> int:
    from atlas.catalog_commands import show_catalog

    return show_catalog()


def _features_check(args: argparse.Namespace) -> int:
    from atlas.features_check import check_features

    return check_features(args.modules, args.catalog)


def _add_features_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    features = commands.add_parser("features", help="compare gated features with the catalog")
    actions = features.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check", help="import modules, fail if they gate on a feature the catalog lacks"
    )
    check.add_argument(
        "--import",
        dest="modules",
        action="append",
        required=True,
        metavar="MODULE",
        help="module whose endpoints use requires_feature/require_feature (repeatable)",
    )
    check.add_argument(
        "--catalog",
        type=Path,
        help="catalog TOML to compare with (default: the published catalog when "
        "KAFKA_BOOTSTRAP_SERVERS is set, else ATLAS_CATALOG or the bundled default)",
    )
    check.set_defaults(run=_features_check)


def _override(args: argparse.Namespace) -> int:
    from atlas.override_commands import publish_override

    return publish_override(
        args.effect,
        args.user,
        args.customer,
        args.feature,
        getattr(args, "limit", None),
        getattr(args, "until", None),
        args.reason,
        args.by,
    )


def _overrides_list(args: argparse.Namespace) -> int:
    from atlas.override_commands import list_overrides

    return list_overrides(args.user, args.customer)


def _who(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--user", help="your user id (looked up in Postgres: needs DATABASE_URL)")
    target.add_argument("--customer", help="the Stripe customer id")


def _override_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, effect: str, text: str
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=text)
    _who(parser)
    parser.add_argument("--feature", required=True, help="feature key from the catalog")
    parser.add_argument("--reason", required=True, help="why (audited)")
    parser.add_argument("--by", help="who (audited; default: the login name)")
    parser.set_defaults(run=_override, effect=effect)
    return parser


def _add_override_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    grant = _override_parser(
        commands, "grant", "grant", "give one user a feature, whatever the plan"
    )
    grant.add_argument("--limit", type=int, help="the feature's limit for this user")
    grant.add_argument("--until", help="lapses then: 2026-12-31 or 2026-12-31T18:00:00Z")
    revoke = _override_parser(
        commands, "revoke", "revoke", "take a feature from one user, whatever the plan"
    )
    revoke.add_argument("--until", help="lapses then: 2026-12-31 or 2026-12-31T18:00:00Z")
    overrides = commands.add_parser("overrides", help="list or clear a user's overrides")
    actions = overrides.add_subparsers(dest="action", required=True, metavar="ACTION")
    _override_parser(actions, "clear", "clear", "remove the override of one feature")
    listing = actions.add_parser("list", help="the latest override of each feature (Postgres)")
    _who(listing)
    listing.set_defaults(run=_overrides_list)


def _reconcile(args: argparse.Namespace) -> int:
    from atlas.reconcile_command import run_reconcile

    return run_reconcile(args.customer, args.user, args.all, args.dry_run, backfill=False)


def _backfill(args: argparse.Namespace) -> int:
    from atlas.reconcile_command import run_reconcile

    return run_reconcile(None, None, True, args.dry_run, backfill=True)


def _add_reconcile_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reconcile = commands.add_parser(
        "reconcile", help="read subscriptions from the Stripe API, report drift, heal Atlas"
    )
    target = reconcile.add_mutually_exclusive_group(required=True)
    target.add_argument("--customer", help="one Stripe customer")
    target.add_argument("--user", help="one user (looked up in Postgres)")
    target.add_argument("--all", action="store_true", help="every subscription of the account")
    reconcile.add_argument("--dry-run", action="store_true", help="report drift, publish nothing")
    reconcile.set_defaults(run=_reconcile)
    backfill = commands.add_parser(
        "backfill", help="first install: every customer and subscription from the Stripe API"
    )
    backfill.add_argument("--dry-run", action="store_true", help="report, publish nothing")
    backfill.set_defaults(run=_backfill)


def _replay(args: argparse.Namespace) -> int:
    from atlas.replay import Target, parse_offsets, run_replay

    if args.to_datetime is not None:
        target = Target(moment=args.to_datetime)
    elif args.to_offsets is not None:
        target = Target(offsets=parse_offsets(args.to_offsets))
    else:
        target = Target(earliest=True)
    return run_replay(target, args.dry_run, args.reason)


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone, e.g. a trailing Z")
    return moment


def _add_replay_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = commands.add_parser(
        "replay", help="rewind the workers' inputs; from the start, rebuild all state"
    )
    where = replay.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--to-earliest",
        action="store_true",
        help="empty the worker table and refold everything from stripe.events",
    )
    where.add_argument(
        "--to-datetime", type=_moment, help="re-deliver inputs from this time (ISO 8601, zone)"
    )
    where.add_argument("--to-offsets", help="re-deliver stripe.events from PARTITION=OFFSET,…")
    replay.add_argument("--dry-run", action="store_true", help="print what would move")
    replay.add_argument("--reason", default="", help="why (kept with a rebuild's generation)")
    replay.set_defaults(run=_replay)


def _dlq_list(_args: argparse.Namespace) -> int:
    from atlas.dead_letters import list_dead_letters

    return list_dead_letters()


def _dlq_replay(args: argparse.Namespace) -> int:
    from atlas.dead_letters import replay_dead_letters

    return replay_dead_letters(args.entries or [], args.all)


def _add_dlq_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dlq = commands.add_parser("dlq", help="records the worker could not process")
    actions = dlq.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="every dead letter, where from and why").set_defaults(
        run=_dlq_list
    )
    replay = actions.add_parser("replay", help="send dead letters back to their topic")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--entry", dest="entries", action="append", metavar="P:O", help="one, as listed"
    )
    which.add_argument("--all", action="store_true", help="every dead letter")
    replay.set_defaults(run=_dlq_replay)


def _doctor(args: argparse.Namespace) -> int:
    from atlas.doctor import run_doctor

    return run_doctor(args.target)


def _add_catalog_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    catalog = commands.add_parser("catalog", help="publish or show the live plan catalog")
    actions = catalog.add_subparsers(dest="action", required=True, metavar="ACTION")
    apply = actions.add_parser(
        "apply", help="validate FILE against the published catalog and publish it"
    )
    apply.add_argument("file", type=Path, metavar="FILE", help="catalog TOML file")
    apply.add_argument("--reason", required=True, help="why the catalog changes (audited)")
    apply.add_argument("--by", help="who applies it (audited; default: the login name)")
    apply.add_argument("--dry-run", action="store_true", help="validate and diff, publish nothing")
    apply.set_defaults(run=_catalog_apply)
    actions.add_parser("show", help="print the published catalog as JSON").set_defaults(
        run=_catalog_show
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="atlas", description="Stripe billing events in, per-customer entitlements out."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingress = commands.add_parser("ingress", help="serve POST /stripe/webhook")
    ingress.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    ingress.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    ingress.set_defaults(run=_ingress)

    api = commands.add_parser("api", help="serve the entitlements API (GET /v1/...)")
    api.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    api.add_argument("--port", type=int, default=8001, help="port to bind (default 8001)")
    api.set_defaults(run=_api)

    commands.add_parser("worker", help="run the Faust worker that folds events").set_defaults(
        run=_worker
    )
    commands.add_parser("sink", help="write entitlements and invoices to Postgres").set_defaults(
        run=_sink
    )
    commands.add_parser("migrate", help="create or upgrade the Postgres schema").set_defaults(
        run=_migrate
    )

    _add_catalog_commands(commands)
    _add_features_commands(commands)
    _add_override_commands(commands)
    _add_reconcile_commands(commands)
    _add_replay_command(commands)
    _add_dlq_commands(commands)
    doctor = commands.add_parser(
        "doctor", help="find why a customer's access differs from Stripe, and the fix"
    )
    doctor.add_argument("target", metavar="USER_OR_CUSTOMER", help="a user id or a cus_ id")
    doctor.set_defaults(run=_doctor)

    dev = commands.add_parser("dev", help="run everything locally on embedded Kafka and Postgres")
    dev.add_argument("--host", default="127.0.0.1", help="ingress address (default 127.0.0.1)")
    dev.add_argument("--port", type=int, default=8000, help="ingress port (default 8000)")
    dev.add_argument("--api-port", type=int, default=8001, help="API port (default 8001)")
    dev.set_defaults(run=_dev)
    return parser


def _configure_logging(level: str, log_format: str) -> None:
    """Atlas's own loggers at ``level``; libraries (Faust, aiokafka, alembic…) at WARNING;
    ``json`` formats every line as a JSON object (atlas/log_format.py)."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if log_format == "json":
        from atlas.log_format import JsonFormatter

        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
    for package in ("atlas", "ingress", "streams", "sinks", "api"):
        logging.getLogger(package).setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log_format = os.environ.get("ATLAS_LOG_FORMAT", "text").strip().lower()
    if log_format not in ("text", "json"):
        print(f"atlas: ATLAS_LOG_FORMAT must be text or json, got {log_format!r}", file=sys.stderr)
        return 2
    _configure_logging(os.environ.get("ATLAS_LOG_LEVEL", "INFO").upper(), log_format)
    run: Command = args.run
    try:
        return run(args)
    except AtlasError as exc:
        print(f"atlas {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
