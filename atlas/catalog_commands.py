"""``atlas catalog apply`` and ``atlas catalog show``: publish a validated catalog version, or
print the one in force."""

from __future__ import annotations

import asyncio
import getpass
import time
import tomllib
from pathlib import Path

import orjson

from api import queries
from atlas.catalog import Catalog, CatalogError, parse_catalog
from atlas.catalog_changes import removed_but_granted, retired_bits_after
from atlas.catalog_topic import publish, read_published
from atlas.kafka_topics import ensure_topics
from atlas.services import catalog_of
from atlas.settings import Settings, load_settings
from schemas.catalog_document import CatalogDocument
from schemas.topics import Topics
from sinks.database import async_engine

NOTHING_PUBLISHED = CatalogDocument(
    version=0, source={}, applied_at=0, applied_by="", reason="", retired_bits={}
)


def _read_toml(path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(path.read_text())
    except OSError as exc:
        raise CatalogError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path} is not valid TOML: {exc}") from None


def _changes(current: Catalog, new: Catalog) -> list[str]:
    lines = [f"+ feature {key}" for key in sorted(set(new.features) - set(current.features))]
    lines += [f"- feature {key}" for key in sorted(set(current.features) - set(new.features))]
    for tier in sorted(set(current.plans) | set(new.plans)):
        old, plan = current.plans.get(tier), new.plans.get(tier)
        if old is None or plan is None:
            lines.append(f"{'+' if old is None else '-'} plan {tier}")
            continue
        granted = sorted(plan.features - old.features)
        revoked = sorted(old.features - plan.features)
        if granted or revoked:
            lines.append(f"~ plan {tier}: grants {granted}, no longer {revoked}")
        if dict(old.limits) != dict(plan.limits):
            lines.append(f"~ plan {tier}: limits {dict(old.limits)} -> {dict(plan.limits)}")
        if (old.grace_days, old.features_from) != (plan.grace_days, plan.features_from):
            lines.append(f"~ plan {tier}: grace_days {plan.grace_days}, from {plan.features_from}")
    return lines


async def _removed_but_overridden(
    settings: Settings, current: Catalog, source: dict[str, object]
) -> list[str]:
    """Problems with removed features that live overrides still grant (needs DATABASE_URL,
    where the sink keeps overrides; without it this check is skipped and says so)."""
    features = source.get("features")
    removed = sorted(set(current.features) - set(features if isinstance(features, dict) else {}))
    if not removed:
        return []
    if not settings.database_url:
        print("note: DATABASE_URL unset, so overrides of removed features were not checked")
        return []
    engine = async_engine(settings.database_url)
    try:
        granted = await queries.customers_granted(engine, removed)
    finally:
        await engine.dispose()
    return [
        f"feature '{key}' is removed but live overrides still grant it to {len(customers)} "
        f"customer(s), e.g. {customers[0]}; clear them first (atlas overrides clear)"
        for key, customers in sorted(granted.items())
    ]


def apply_catalog(path: Path, reason: str, applied_by: str | None, dry_run: bool) -> int:
    settings: Settings = load_settings()
    topics = Topics.with_prefix(settings.topic_prefix)
    ensure_topics(settings.kafka_bootstrap_servers, topics, settings.topic_partitions)
    if not reason.strip():
        raise CatalogError("--reason must say why the catalog changes (it is kept for audit)")
    document = read_published(settings.kafka_bootstrap_servers, topics)
    published = document or NOTHING_PUBLISHED
    current = catalog_of(settings, document)
    source = _read_toml(path)
    problems = removed_but_granted(current, source)
    problems += asyncio.run(_removed_but_overridden(settings, current, source))
    if problems:
        raise CatalogError(f"{path}: " + "; ".join(problems))
    new = parse_catalog(source, settings.price_ids, str(path), current.version + 1)
    document = CatalogDocument(
        version=new.version,
        source=source,
        applied_at=int(time.time()),
        applied_by=applied_by or getpass.getuser(),
        reason=reason.strip(),
        retired_bits=retired_bits_after(current, published, new),
    )
    changes = _changes(current, new) or ["(no change in features, plans or limits)"]
    print("\n".join(changes))
    if dry_run:
        print(f"atlas catalog apply: {path} is valid; --dry-run, nothing published")
        return 0
    publish(settings.kafka_bootstrap_servers, topics, document, settings.publish_timeout_s * 2)
    print(
        f"atlas catalog apply: published catalog version {document.version}; every worker "
        "re-derives its customers and announces only changed access"
    )
    return 0


def show_catalog() -> int:
    settings = load_settings()
    topics = Topics.with_prefix(settings.topic_prefix)
    ensure_topics(settings.kafka_bootstrap_servers, topics, settings.topic_partitions)
    document = read_published(settings.kafka_bootstrap_servers, topics)
    if document is None:
        where = settings.catalog_path or "the bundled default catalog"
        print(f"no catalog published yet; workers use {where}")
        return 0
    print(orjson.dumps(document.to_json_dict(), option=orjson.OPT_INDENT_2).decode())
    return 0
