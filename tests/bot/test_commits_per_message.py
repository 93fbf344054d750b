"""What one chat message costs the database in transactions (issue 17): each commit is a WAL flush or, for a
read outside a transaction, a round trip of its own. The chat turn keeps two: before the LLM the session, the
hold and the user's turn; after it the call's record, the charge, the answer's turn and the stored reply."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from apps.billing.models import Operation, OperationType
from apps.llm.models import LLMRequest
from tests.factories import UserWithBalanceFactory
from tests.fakes.openai import Answer
from tests.helpers import message_update

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def transactions() -> Iterator[list[str]]:
    """The transactions PostgreSQL commits meanwhile, in every thread of this process: a statement run in
    autocommit outside a transaction (its first words), or a commit ("COMMIT")."""
    committed: list[str] = []
    lock = threading.Lock()
    execute, commit = psycopg.Cursor.execute, psycopg.Connection.commit

    def counted_execute(self, query, *args, **kwargs):
        connection = self.connection
        if connection.autocommit and connection.info.transaction_status == TransactionStatus.IDLE:
            text = query if isinstance(query, str) else query.as_string(connection)
            with lock:
                committed.append(" ".join(text.split()[:4]) or "(pool check)")
        return execute(self, query, *args, **kwargs)

    def counted_commit(self):
        with lock:
            committed.append("COMMIT")
        return commit(self)

    psycopg.Cursor.execute, psycopg.Connection.commit = counted_execute, counted_commit
    try:
        yield committed
    finally:
        psycopg.Cursor.execute, psycopg.Connection.commit = execute, commit


def test_a_chat_message_is_answered_in_few_transactions(require_postgres, post_update, bot_api, llm_api, settings):
    settings.BILLING_FREE_MODE = False
    settings.PROFILE_REFRESH_ON_CONTACT = False  # a returning user's profile is fresh: no refresh is due
    user = UserWithBalanceFactory(credits=10)
    llm_api.then(Answer(text="First."), Answer(text="Second."))
    post_update(message_update("hello", user_id=user.id))  # the session exists: a returning user's message

    with transactions() as committed:
        post_update(message_update("and now?", user_id=user.id))

    assert [call.params["text"] for call in bot_api.calls_to("sendMessage")] == ["First.", "Second."]
    assert Operation.objects.filter(user=user, type=OperationType.GENERATION).count() == 2
    assert LLMRequest.objects.filter(user=user).count() == 2
    # The webhook's insert; the claim; the contact; the turn's two; the reply marked sent; the update done; the
    # reads of the language and of a stored reply, and the pool's check of each thread's connection. Before the
    # turn was folded: 23 (its reads, the hold, the user's turn and the LLM request each committed apart).
    assert len(committed) <= 12, committed
