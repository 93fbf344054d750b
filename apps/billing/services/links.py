"""Tracked links (/go/<slug>): the bot gives each user the link with their id signed in it, so a visit
names who followed it. A link without a valid signature still redirects and records nothing."""

import logging

from django.conf import settings
from django.core import signing

from apps.analytics.catalogue import Events
from apps.analytics.services import track
from apps.users.services import user_visited_platform

from ..models import TrackedLink

logger = logging.getLogger(__name__)

_SIGNER = signing.Signer(salt="botdesk.tracked-link")


def tracked_url(link: TrackedLink, user_id: int) -> str | None:
    """The link as the bot gives it to this user; None while PUBLIC_BASE_URL is unset."""
    if not settings.PUBLIC_BASE_URL:
        return None
    return f"{settings.PUBLIC_BASE_URL}/go/{link.slug}?u={_SIGNER.sign(str(user_id))}"


def tracked_link_visit(slug: str, token: str) -> str | None:
    """Where the link redirects (None: no such link). A visit by the user the token names marks them a
    platform visitor and is tracked, the first time only."""
    link = TrackedLink.objects.filter(slug=slug).first()
    if link is None:
        return None
    try:
        user_id = int(_SIGNER.unsign(token)) if token else None
    except (signing.BadSignature, ValueError):
        logger.info("tracked link %s followed with a token that is not ours: redirected, not recorded", slug)
        user_id = None
    if user_id is not None and user_visited_platform(user_id):
        track(Events.PLATFORM_VISITED, user_id=user_id, properties={"link": slug})
    return link.target_url
