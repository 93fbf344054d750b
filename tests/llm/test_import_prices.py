"""manage.py import_prices: a price map in LiteLLM's model_prices_and_context_window.json format adds new and
changed prices in effect from now, keeps the earlier ones (past requests keep their cost) and adds nothing for
an unchanged price; the snapshot shipped in apps/llm/data prices every model the README and the seeded price
list name."""

import importlib
import json
import re
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.llm.models import ModelPrice
from apps.llm.pricing import cost_at
from tests.helpers import ROOT

pytestmark = pytest.mark.django_db

SNAPSHOT = ROOT / "apps" / "llm" / "data" / "model_prices.json"

PRICE_MAP = {
    "sample_spec": {"input_cost_per_token": 0.0, "litellm_provider": "one of ...", "mode": "one of: chat, ..."},
    "gpt-4o": {
        "cache_read_input_token_cost": 1.25e-06,
        "input_cost_per_token": 2.5e-06,
        "litellm_provider": "openai",
        "mode": "chat",
        "output_cost_per_token": 1e-05,
    },
    "groq/llama-3.3-70b-versatile": {
        "input_cost_per_token": 5.9e-07,
        "litellm_provider": "groq",
        "mode": "chat",
        "output_cost_per_token": 7.9e-07,
    },
    "whisper-1": {"input_cost_per_second": 0.0001, "litellm_provider": "openai", "mode": "audio_transcription"},
    "gpt-4o-transcribe": {
        "input_cost_per_token": 2.5e-06,
        "litellm_provider": "openai",
        "mode": "audio_transcription",
        "output_cost_per_token": 1e-05,
    },
    "text-embedding-3-small": {"input_cost_per_token": 2e-08, "litellm_provider": "openai", "mode": "embedding"},
    "fireworks-ai-default": {"input_cost_per_token": 0.0, "litellm_provider": "fireworks_ai"},
    "mystery-chat": {"litellm_provider": "openai", "mode": "chat"},
}


@pytest.fixture(autouse=True)
def _seeded_prices(reference_data: None) -> None:
    """The price list the migrations seed."""


def _import(tmp_path: Path, price_map: dict, *args: str) -> str:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(price_map))
    out = StringIO()
    call_command("import_prices", str(path), *args, stdout=out)
    return out.getvalue()


def _rows(model: str) -> list[ModelPrice]:
    return list(ModelPrice.objects.filter(model=model).order_by("valid_from"))


def test_new_prices_are_added_from_now_and_what_cannot_be_priced_is_skipped_with_the_reason(tmp_path):
    ModelPrice.objects.all().delete()
    before = timezone.now()
    report = _import(tmp_path, PRICE_MAP)

    [gpt_4o] = _rows("gpt-4o")
    assert (gpt_4o.provider, gpt_4o.input_per_1m, gpt_4o.cached_input_per_1m, gpt_4o.output_per_1m) == (
        "openai",
        Decimal("2.5"),
        Decimal("1.25"),
        Decimal("10"),
    )
    assert gpt_4o.valid_from >= before
    [llama] = _rows("llama-3.3-70b-versatile")
    assert (llama.provider, llama.cached_input_per_1m) == ("groq", None), "LiteLLM's 'groq/' prefix is the provider"
    [whisper] = _rows("whisper-1")
    assert whisper.per_audio_minute == Decimal("0.006"), "$0.0001 a second is $0.006 a minute"
    assert ModelPrice.objects.count() == 3

    assert "Added 3 (in effect from now):" in report
    assert "  openai/gpt-4o: input $2.5, cached input $1.25, output $10 per 1M tokens" in report
    assert "  openai/whisper-1: $0.006 per audio minute" in report
    assert "Skipped 5:" in report
    for line in (
        "sample_spec: LiteLLM's description of the format, not a model",
        "gpt-4o-transcribe: transcription priced per token, not per second of audio",
        "text-embedding-3-small: mode 'embedding': only chat and transcription models are priced",
        "fireworks-ai-default: no mode",
        "mystery-chat: chat model without input and output prices per token",
    ):
        assert line in report


def test_importing_again_adds_nothing(tmp_path):
    ModelPrice.objects.all().delete()
    _import(tmp_path, PRICE_MAP)
    again = _import(tmp_path, PRICE_MAP)
    assert ModelPrice.objects.count() == 3
    assert "Added 0" in again and "Changed 0" in again and "Unchanged 3." in again


def test_a_changed_price_adds_a_row_and_past_requests_keep_their_cost(tmp_path):
    then = timezone.now() - timedelta(days=1)
    old = ModelPrice.objects.filter(model="gpt-4o").get()  # seeded, in effect since 2025
    changed = {"gpt-4o": {**PRICE_MAP["gpt-4o"], "input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06}}

    report = _import(tmp_path, changed)

    was, now = _rows("gpt-4o")
    assert was == old and (was.input_per_1m, was.output_per_1m) == (Decimal("2.5"), Decimal("10"))
    assert (now.input_per_1m, now.cached_input_per_1m, now.output_per_1m) == (
        Decimal("2"),
        Decimal("1.25"),
        Decimal("8"),
    )
    assert "Changed 1 (the earlier price stays for past requests):" in report
    assert "openai/gpt-4o: input $2.5, cached input $1.25, output $10 per 1M tokens -> input $2, " in report
    usage = {"provider": "openai", "model": "gpt-4o", "prompt_tokens": 1000, "completion_tokens": 1000}
    assert cost_at(**usage, cached_tokens=0, at=then) == Decimal("0.0125"), "yesterday's request: the old price"
    assert cost_at(**usage, cached_tokens=0, at=timezone.now()) == Decimal("0.01")


def test_a_transcription_price_keeps_the_row_s_token_prices_and_a_chat_price_its_audio_price(tmp_path):
    ModelPrice.objects.filter(model="offline-demo").update(input_per_1m=Decimal("0.1"))
    offline = {
        "offline/offline-demo": {
            "input_cost_per_second": 1e-05,
            "litellm_provider": "offline",
            "mode": "audio_transcription",
        }
    }
    _import(tmp_path, offline)
    _, now = _rows("offline-demo")
    assert (now.per_audio_minute, now.input_per_1m, now.output_per_1m) == (Decimal("0.0006"), Decimal("0.1"), 0)


def test_only_the_models_asked_for_or_those_already_in_the_table(tmp_path):
    ModelPrice.objects.exclude(model="gpt-4o").delete()
    report = _import(tmp_path, PRICE_MAP, "--model", "llama-3.3-70b-versatile", "--model", "whisper-1")
    assert sorted(ModelPrice.objects.values_list("model", flat=True)) == [
        "gpt-4o",
        "llama-3.3-70b-versatile",
        "whisper-1",
    ]
    assert "Skipped 0:" in report, "entries not asked for are not reported"

    ModelPrice.objects.exclude(model="gpt-4o").delete()
    azure = {"azure/gpt-4o": {**PRICE_MAP["gpt-4o"], "litellm_provider": "azure", "input_cost_per_token": 5e-06}}
    report = _import(tmp_path, {**PRICE_MAP, **azure}, "--known")
    assert list(ModelPrice.objects.values_list("provider", "model")) == [("openai", "gpt-4o")]
    assert "Unchanged 1." in report and "Skipped 0:" in report


def test_a_dry_run_reports_and_changes_nothing(tmp_path):
    ModelPrice.objects.all().delete()
    report = _import(tmp_path, PRICE_MAP, "--dry-run")
    assert "Would add 3 (in effect from now):" in report and "Dry run: nothing was changed." in report
    assert not ModelPrice.objects.exists()


@pytest.mark.parametrize(
    ("content", "error"),
    [("[1, 2]", "is not a price map: expected a JSON object of models"), ("{not json", "is not JSON")],
)
def test_a_file_that_is_not_a_price_map_is_refused(tmp_path, content, error):
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(CommandError, match=error):
        call_command("import_prices", str(path))
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_prices", str(tmp_path / "missing.json"))


def _named_models() -> set[str]:
    """The models the README names and those the seeded price list does (the offline demo aside)."""
    readme = set(re.findall(r"`(gpt-[\w.-]+|whisper-[\w.-]+)`", (ROOT / "README.md").read_text()))
    seeded = set()
    for migration, table in (("0002_seed_prices_and_persona", "PRICES"), ("0006_transcription", "AUDIO_PRICES")):
        rows = getattr(importlib.import_module(f"apps.llm.migrations.{migration}"), table)
        seeded |= {row[1] for row in rows if row[0] != "offline"}
    return readme | seeded


def test_the_snapshot_prices_every_model_the_readme_and_the_seeded_list_name(tmp_path):
    ModelPrice.objects.all().delete()
    out = StringIO()
    call_command("import_prices", stdout=out)  # the snapshot is the default file
    report = out.getvalue()
    assert "Skipped 2:" in report, "gpt-4o(-mini)-transcribe: LiteLLM prices them per token"
    unpriced = {"gpt-4o-transcribe", "gpt-4o-mini-transcribe"}
    named = _named_models()
    assert {"gpt-4o-mini", "whisper-1", "gpt-4o", "claude-sonnet-4-5", "deepseek-chat"} <= named
    assert set(ModelPrice.objects.values_list("model", flat=True)) == named - unpriced
    assert set(json.loads(SNAPSHOT.read_text())) >= {"gpt-4o-mini", "whisper-1", "groq/llama-3.1-8b-instant"}
