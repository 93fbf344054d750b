"""Every update from a user: who they are, what they did, and what a first or returning contact brings."""

from django.conf import settings

from apps.billing.services import billing_grant_trial
from apps.users.services import Contact, ContactActivity, TelegramIdentity, user_record_contact

from .profiles import profile_refresh_if_stale


def contact_record(*, identity: TelegramIdentity, activity: ContactActivity, source: str = "") -> Contact:
    """The user upserted and the contact logged; a new user gets the trial credits, a returning one a
    profile refresh when theirs is stale (PROFILE_REFRESH_ON_CONTACT)."""
    contact = user_record_contact(identity=identity, activity=activity, source=source)
    if contact.created:
        billing_grant_trial(user_id=identity.id)
    elif settings.PROFILE_REFRESH_ON_CONTACT:
        profile_refresh_if_stale(contact.user)
    return contact
