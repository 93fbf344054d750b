"""Voice transcription: its own request type, the audio seconds on the request, a price per audio minute,
and the list prices of the transcription models."""

from datetime import UTC, datetime
from decimal import Decimal

from django.db import migrations, models

VALID_FROM = datetime(2025, 1, 1, tzinfo=UTC)

# provider, model, USD per audio minute
AUDIO_PRICES = [
    ("openai", "whisper-1", "0.006"),
    ("openai", "gpt-4o-transcribe", "0.006"),
    ("openai", "gpt-4o-mini-transcribe", "0.003"),
    ("groq", "whisper-large-v3", "0.00185"),
    ("groq", "whisper-large-v3-turbo", "0.000667"),
    # The offline demo transcript costs nothing.
    ("offline", "offline-demo", "0"),
]


def seed(apps, schema_editor):
    ModelPrice = apps.get_model("llm", "ModelPrice")
    for provider, model, per_minute in AUDIO_PRICES:
        price, created = ModelPrice.objects.get_or_create(
            provider=provider,
            model=model,
            valid_from=VALID_FROM,
            defaults={"input_per_1m": 0, "output_per_1m": 0, "per_audio_minute": Decimal(per_minute)},
        )
        if not created and price.per_audio_minute is None:
            price.per_audio_minute = Decimal(per_minute)
            price.save(update_fields=["per_audio_minute"])


def unseed(apps, schema_editor):
    ModelPrice = apps.get_model("llm", "ModelPrice")
    for provider, model, _ in AUDIO_PRICES:
        if model == "offline-demo":
            ModelPrice.objects.filter(provider=provider, model=model).update(per_audio_minute=None)
        else:
            ModelPrice.objects.filter(provider=provider, model=model, valid_from=VALID_FROM).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("llm", "0005_request_model_any_length"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelprice",
            name="per_audio_minute",
            field=models.DecimalField(
                blank=True,
                decimal_places=6,
                help_text="Transcription models: the price of a minute of audio (billed by the second)",
                max_digits=12,
                null=True,
                verbose_name="per audio minute",
            ),
        ),
        migrations.AddField(
            model_name="llmrequest",
            name="audio_seconds",
            field=models.PositiveIntegerField(blank=True, help_text="transcriptions: audio transcribed", null=True),
        ),
        migrations.AlterField(
            model_name="llmrequest",
            name="request_type",
            field=models.CharField(
                choices=[
                    ("chat", "Chat reply"),
                    ("journey_analysis", "Journey analysis"),
                    ("profile_summary", "Profile summary"),
                    ("transcription", "Voice transcription"),
                ],
                default="chat",
                max_length=24,
            ),
        ),
        migrations.RunPython(seed, unseed),
    ]
