import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from apps.llm.models import ModelPrice
from apps.llm.pricing import PriceImport, prices_import

SNAPSHOT = Path(__file__).resolve().parents[2] / "data" / "model_prices.json"
LISTED = 20  # more skipped entries than this are counted by reason (-v 2 lists them all)


def _usd(value: Decimal) -> str:
    text = f"{value:f}"
    return "$" + (text.rstrip("0").rstrip(".") if "." in text else text)


def describe(price: ModelPrice) -> str:
    parts = []
    if price.input_per_1m or price.output_per_1m or price.per_audio_minute is None:
        cached = "" if price.cached_input_per_1m is None else f", cached input {_usd(price.cached_input_per_1m)}"
        parts.append(f"input {_usd(price.input_per_1m)}{cached}, output {_usd(price.output_per_1m)} per 1M tokens")
    if price.per_audio_minute is not None:
        parts.append(f"{_usd(price.per_audio_minute)} per audio minute")
    return "; ".join(parts)


class Command(BaseCommand):
    help = (
        "Import model prices from a price map in LiteLLM's model_prices_and_context_window.json format (default: "
        "the snapshot shipped in apps/llm/data/model_prices.json). A new or changed price is added in effect from "
        "now; earlier prices stay, so past requests keep their cost; an unchanged price adds nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", default=str(SNAPSHOT), help="the price map (JSON)")
        parser.add_argument(
            "--model", action="append", default=[], help="import only this model (LiteLLM's key or the model name)"
        )
        parser.add_argument("--known", action="store_true", help="import only models already in the price table")
        parser.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")

    def handle(self, *args: object, **options: object) -> None:
        path = Path(str(options["file"]))
        try:
            entries = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        except OSError as error:
            raise CommandError(f"{path}: {error.strerror or error}") from error
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CommandError(f"{path} is not JSON: {error}") from error
        if not isinstance(entries, dict):
            raise CommandError(f"{path} is not a price map: expected a JSON object of models")
        with transaction.atomic():
            result = prices_import(entries, at=timezone.now(), models=options["model"], known_only=options["known"])
            if options["dry_run"]:
                transaction.set_rollback(True)
        self.report(result, dry_run=bool(options["dry_run"]), verbosity=int(options["verbosity"]))

    def report(self, result: PriceImport, *, dry_run: bool, verbosity: int) -> None:
        added, changed = ("Would add", "Would change") if dry_run else ("Added", "Changed")
        self.stdout.write(f"{added} {len(result.added)} (in effect from now):")
        for price in result.added:
            self.stdout.write(f"  {price.provider}/{price.model}: {describe(price)}")
        self.stdout.write(f"{changed} {len(result.changed)} (the earlier price stays for past requests):")
        for was, now in result.changed:
            self.stdout.write(f"  {now.provider}/{now.model}: {describe(was)} -> {describe(now)}")
        self.stdout.write(f"Unchanged {len(result.unchanged)}.")
        self.stdout.write(f"Skipped {len(result.skipped)}:")
        if len(result.skipped) <= LISTED or verbosity >= 2:
            for key, reason in result.skipped.items():
                self.stdout.write(f"  {key}: {reason}")
        else:
            for reason, count in Counter(result.skipped.values()).most_common():
                self.stdout.write(f"  {count} x {reason}")
        if dry_run:
            self.stdout.write(self.style.WARNING("Dry run: nothing was changed."))
