"""The event catalogue: every event the product tracks and the properties it must carry."""


class Events:
    BOT_STARTED = "bot_started"
    DIALOG_STARTED = "ai_dialog_started"
    RESPONSE_TIME = "ai_response_time"
    ERROR_OCCURRED = "error_occurred"
    SESSION_COMPLETED = "session_completed"
    PAYMENT_COMPLETED = "payment_completed"
    TOPUP_OFFERED = "topup_offered"


REQUIRED_PROPERTIES: dict[str, tuple[str, ...]] = {
    Events.BOT_STARTED: ("is_new",),
    Events.DIALOG_STARTED: (),
    Events.RESPONSE_TIME: ("duration_ms", "model_used"),
    Events.ERROR_OCCURRED: ("error_type",),
    Events.SESSION_COMPLETED: ("session_id", "turns"),
    Events.PAYMENT_COMPLETED: ("stars", "credits"),
    Events.TOPUP_OFFERED: ("balance",),
}


class InvalidEvent(ValueError):
    pass


def validate_event(event_name: str, properties: dict) -> None:
    if event_name not in REQUIRED_PROPERTIES:
        raise InvalidEvent(f"unknown event {event_name!r}")
    missing = [name for name in REQUIRED_PROPERTIES[event_name] if name not in properties]
    if missing:
        raise InvalidEvent(f"event {event_name!r} lacks required properties: {', '.join(missing)}")
