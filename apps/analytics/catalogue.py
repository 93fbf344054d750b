"""The event catalogue: every event the product tracks and the properties it must carry.

Seed 002's events (the booking assistant's funnel) and the bot's own. An event outside the
catalogue, or lacking a required property, is dropped and logged, never raised to the caller.
"""


class Events:
    # The bot's own
    BOT_STARTED = "bot_started"
    DIALOG_STARTED = "ai_dialog_started"
    RESPONSE_TIME = "ai_response_time"
    ERROR_OCCURRED = "error_occurred"
    SESSION_COMPLETED = "session_completed"
    PAYMENT_COMPLETED = "payment_completed"
    TOPUP_OFFERED = "topup_offered"
    JOURNEY_STAGE_CHANGED = "journey_stage_changed"
    BROADCAST_DELIVERED = "broadcast_delivered"
    PLATFORM_VISITED = "platform_visited"  # a tracked link (/go/<slug>) followed
    FLOW_PURCHASED = "flow_purchased"  # a paid stream bought
    # Seed 002's
    SERVICE_SUGGESTED = "service_suggested"
    SERVICE_ADDED = "service_added"
    CART_CONFIRMED = "cart_confirmed"
    BOOKING_CREATED = "booking_request_created"
    SUGGESTION_ACCEPTED = "ai_suggestion_accepted"


REQUIRED_PROPERTIES: dict[str, tuple[str, ...]] = {
    Events.BOT_STARTED: ("is_new",),
    Events.DIALOG_STARTED: (),
    Events.RESPONSE_TIME: ("duration_ms", "model_used"),
    Events.ERROR_OCCURRED: ("error_type",),
    Events.SESSION_COMPLETED: ("session_id", "turns"),
    Events.PAYMENT_COMPLETED: ("stars", "credits"),
    Events.TOPUP_OFFERED: ("balance",),
    Events.JOURNEY_STAGE_CHANGED: ("from_stage", "to_stage"),
    Events.BROADCAST_DELIVERED: ("broadcast_id",),
    Events.PLATFORM_VISITED: ("link",),
    Events.FLOW_PURCHASED: ("stream",),
    Events.SERVICE_SUGGESTED: ("service_name", "confidence_score"),
    Events.SERVICE_ADDED: (),
    Events.CART_CONFIRMED: (),
    Events.BOOKING_CREATED: ("booking_id", "services_count", "estimated_total"),
    Events.SUGGESTION_ACCEPTED: (),
}


class InvalidEvent(ValueError):
    pass


def validate_event(event_name: str, properties: dict) -> None:
    if event_name not in REQUIRED_PROPERTIES:
        raise InvalidEvent(f"unknown event {event_name!r}")
    missing = [name for name in REQUIRED_PROPERTIES[event_name] if name not in properties]
    if missing:
        raise InvalidEvent(f"event {event_name!r} lacks required properties: {', '.join(missing)}")
