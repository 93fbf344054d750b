"""List prices of common models (USD per 1M tokens) and a starting persona; both editable in the admin."""

from datetime import UTC, datetime
from decimal import Decimal

from django.db import migrations

VALID_FROM = datetime(2025, 1, 1, tzinfo=UTC)

# provider, model, input, cached input (None: same as input), output
PRICES = [
    ("openai", "gpt-4o-mini", "0.15", "0.075", "0.60"),
    ("openai", "gpt-4o", "2.50", "1.25", "10.00"),
    ("openai", "gpt-4.1", "2.00", "0.50", "8.00"),
    ("openai", "gpt-4.1-mini", "0.40", "0.10", "1.60"),
    ("openai", "gpt-4.1-nano", "0.10", "0.025", "0.40"),
    ("openai", "gpt-5", "1.25", "0.125", "10.00"),
    ("openai", "gpt-5-mini", "0.25", "0.025", "2.00"),
    ("openai", "gpt-5-nano", "0.05", "0.005", "0.40"),
    ("openai", "o4-mini", "1.10", "0.275", "4.40"),
    ("anthropic", "claude-sonnet-4-5", "3.00", "0.30", "15.00"),
    ("anthropic", "claude-haiku-4-5", "1.00", "0.10", "5.00"),
    ("groq", "llama-3.1-8b-instant", "0.05", None, "0.08"),
    ("groq", "llama-3.3-70b-versatile", "0.59", None, "0.79"),
    ("deepseek", "deepseek-chat", "0.28", "0.028", "0.42"),
    # The offline demo model answers without a provider: it costs nothing.
    ("offline", "offline-demo", "0", None, "0"),
]

PERSONA = (
    "You are a warm, perceptive companion in a Telegram chat. You help the person reflect on what "
    "matters to them: ask one good question at a time, notice patterns in what they say, and answer "
    "briefly and concretely. Answer in the language the person writes in. You are not a doctor or a "
    "therapist; if someone is in danger, urge them to contact local emergency services."
)


def seed(apps, schema_editor):
    ModelPrice = apps.get_model("llm", "ModelPrice")
    BotPersona = apps.get_model("llm", "BotPersona")
    for provider, model, input_price, cached_price, output_price in PRICES:
        ModelPrice.objects.get_or_create(
            provider=provider,
            model=model,
            valid_from=VALID_FROM,
            defaults={
                "input_per_1m": Decimal(input_price),
                "cached_input_per_1m": Decimal(cached_price) if cached_price is not None else None,
                "output_per_1m": Decimal(output_price),
            },
        )
    if not BotPersona.objects.exists():
        BotPersona.objects.create(name="Companion", system_prompt=PERSONA, is_active=True)


def unseed(apps, schema_editor):
    apps.get_model("llm", "ModelPrice").objects.filter(valid_from=VALID_FROM).delete()


class Migration(migrations.Migration):
    dependencies = [("llm", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
