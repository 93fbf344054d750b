from django.db import models
from django.utils import timezone


class JourneyStage(models.TextChoices):
    """Campbell's hero's journey, in order (seed 004)."""

    ORDINARY_WORLD = "ordinary_world", "The ordinary world"
    CALL_TO_ADVENTURE = "call_to_adventure", "The call to adventure"
    REFUSAL_OF_THE_CALL = "refusal_of_the_call", "Refusal of the call"
    MEETING_THE_MENTOR = "meeting_the_mentor", "Meeting the mentor"
    CROSSING_THE_THRESHOLD = "crossing_the_threshold", "Crossing the threshold"
    TESTS_ALLIES_ENEMIES = "tests_allies_enemies", "Tests, allies, enemies"
    APPROACH = "approach", "Approach to the inmost cave"
    ORDEAL = "ordeal", "The ordeal"
    REWARD = "reward", "The reward"
    THE_ROAD_BACK = "the_road_back", "The road back"
    RESURRECTION = "resurrection", "Resurrection"
    RETURN_WITH_THE_ELIXIR = "return_with_the_elixir", "Return with the elixir"

    @classmethod
    def position(cls, stage: str) -> int:
        return cls.values.index(stage)


class JourneyProgress(models.Model):
    """A stage the user entered: one row per change, the latest is where they stand."""

    user = models.ForeignKey("users.TelegramUser", on_delete=models.CASCADE, related_name="journey")
    current_stage = models.CharField(max_length=32, choices=JourneyStage.choices)
    completed_stages = models.JSONField(default=list, blank=True)
    stage_start_time = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "journey progress"
        ordering = ["-stage_start_time"]
        indexes = [models.Index(fields=["user", "-stage_start_time"], name="journey_user_latest")]

    def __str__(self) -> str:
        return f"{self.user_id} at {self.get_current_stage_display()}"
