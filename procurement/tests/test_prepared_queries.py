"""A prepared query returns what its queryset returns, compiled once and replayed with new values;
a prepared insert writes the row create() writes, a prepared save the columns save() writes.

Every test builds its own PreparedQuery, so that none replays SQL another test compiled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, Max, Model, OuterRef, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Upper
from django.db.models.signals import post_save
from django.db.models.sql.compiler import SQLCompiler, SQLInsertCompiler
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_fsm import ConcurrentTransition

from approvals.models import ApprovedTotal
from procurement.auth import UserBackend
from procurement.models import AuditEntry, TaskOutbox, User
from procurement.prepared import PreparedInsert, PreparedQuery, prepared_save
from procurement.sessions import SessionStore
from requests.models import Comment, PurchaseRequest
from tests.factories import PurchaseRequestFactory

pytestmark = pytest.mark.django_db

# The shapes of queryset a prepared query replays, each by the id of a user.
SHAPES: dict[str, Callable[..., QuerySet[Any, Any]]] = {
    "select_related": lambda uid: (
        PurchaseRequest.objects.select_related("requester").filter(requester_id=uid).order_by("pk")
    ),
    "exists": lambda uid: PurchaseRequest.objects.annotate(
        has_their_comment=Exists(Comment.objects.filter(request=OuterRef("pk"), author_id=uid))
    ).order_by("pk"),
    "values": lambda uid: (
        PurchaseRequest.objects.filter(requester_id=uid)
        .values("pk", "title", "requester__username")
        .order_by("pk")
    ),
    "values_list_flat": lambda uid: (
        PurchaseRequest.objects.filter(requester_id=uid)
        .order_by("pk")
        .values_list("title", flat=True)
    ),
    # A literal percent sign in the SQL itself (psycopg2 takes it doubled), beside a value.
    "literal_percent": lambda uid: (
        PurchaseRequest.objects.filter(requester_id=uid)
        .annotate(label=RawSQL("'100%%'", ()))
        .order_by("pk")
        .values_list("label", "title")
    ),
}


def with_line_items(uid: int) -> QuerySet[PurchaseRequest]:
    return PurchaseRequest.objects.prefetch_related("line_items").filter(requester_id=uid)


@pytest.fixture
def requests_of_three(org: Any) -> None:
    """Two requests of Alice's (one the head commented on), one of Otto's, one of the head's."""
    alices = PurchaseRequestFactory.create(requester=org.requester, line_items=2)
    PurchaseRequestFactory.create(requester=org.requester)
    ottos = PurchaseRequestFactory.create(requester=org.outsider)
    PurchaseRequestFactory.create(requester=org.head, line_items=3)
    Comment.objects.create(request=alices, author=org.head, body="Which model?")
    Comment.objects.create(request=ottos, author=org.outsider, body="Urgent, please.")


@pytest.fixture
def compilations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The queries compiled to SQL from now on (a replaying compiler compiles nothing)."""
    compiled: list[str] = []
    as_sql = SQLCompiler.as_sql

    def counting_as_sql(self: SQLCompiler, *args: Any, **kwargs: Any) -> Any:
        if not type(self).__name__.startswith("Replaying"):
            compiled.append(type(self).__name__)
        return as_sql(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counting_as_sql)
    return compiled


def comparable(rows: list[Any]) -> list[Any]:
    """Rows as plain values: a model instance by its fields and annotations."""
    return [
        {k: v for k, v in vars(row).items() if k != "_state"} if isinstance(row, Model) else row
        for row in rows
    ]


@pytest.mark.parametrize("build", SHAPES.values(), ids=SHAPES.keys())
def test_it_returns_the_rows_the_queryset_returns(requests_of_three, org, build):
    prepared = PreparedQuery(build)

    assert comparable(prepared.list(uid=org.requester.pk)) == comparable(
        list(build(uid=org.requester.pk))
    )
    assert comparable([prepared.first(uid=org.requester.pk)]) == comparable(
        [build(uid=org.requester.pk).first()]
    )


@pytest.mark.parametrize("build", SHAPES.values(), ids=SHAPES.keys())
def test_it_replays_other_values_without_compiling_again(
    requests_of_three, org, compilations, build
):
    prepared = PreparedQuery(build)
    alices = prepared.list(uid=org.requester.pk)
    assert compilations, "the first call compiles the queryset"

    compilations.clear()
    ottos = prepared.list(uid=org.outsider.pk)
    first_of_ottos = prepared.first(uid=org.outsider.pk)
    assert compilations == []

    assert comparable(ottos) == comparable(list(build(uid=org.outsider.pk)))
    assert comparable([first_of_ottos]) == comparable([build(uid=org.outsider.pk).first()])
    assert comparable(ottos) != comparable(alices)


def test_a_replay_works_out_its_columns_converters_once(requests_of_three, org, monkeypatch):
    build = SHAPES["select_related"]
    prepared = PreparedQuery(build)
    prepared.list(uid=org.requester.pk)
    asked: list[int] = []
    original = SQLCompiler.get_converters

    def counting(self: SQLCompiler, expressions: Any) -> Any:
        asked.append(len(expressions))
        return original(self, expressions)

    monkeypatch.setattr(SQLCompiler, "get_converters", counting)
    ottos = prepared.list(uid=org.outsider.pk)

    assert asked == []
    # The kept converters still turn each column into its Python value (dates, amounts).
    assert comparable(ottos) == comparable(list(build(uid=org.outsider.pk)))


def test_it_loads_the_select_related_object_in_the_same_query(
    requests_of_three, org, django_assert_num_queries
):
    build = SHAPES["select_related"]
    prepared = PreparedQuery(build)

    for user in (org.requester, org.outsider):  # compiled, then replayed
        with django_assert_num_queries(1):
            rows = prepared.list(uid=user.pk)
            requesters = [(row.requester.pk, row.requester.username) for row in rows]
        assert requesters == [(row.requester.pk, row.requester.username) for row in build(user.pk)]


def test_it_does_the_prefetch_before_returning(
    requests_of_three, org, django_assert_num_queries, compilations
):
    prepared = PreparedQuery(with_line_items)
    prepared.list(uid=org.head.pk)

    for user in (org.requester, org.outsider):
        compilations.clear()
        with django_assert_num_queries(2):
            rows = prepared.list(uid=user.pk)
        assert len(compilations) == 1, "only the prefetch's own query is compiled"
        with django_assert_num_queries(0):
            lines = {row.pk: list(row.line_items.all()) for row in rows}
        expected = {row.pk: list(row.line_items.all()) for row in with_line_items(user.pk)}
        assert lines == expected


def test_it_swaps_a_value_used_twice_in_both_places(requests_of_three, org):
    def build(uid):
        return PurchaseRequest.objects.filter(
            Q(requester_id=uid) | Q(department__head_id=uid)
        ).order_by("pk")

    prepared = PreparedQuery(build)
    heads = list(build(org.head.pk))
    assert {row.requester for row in heads} == {org.head, org.requester}, "both sides match"

    for user in (org.head, org.outsider, org.requester, org.head):
        assert prepared.list(uid=user.pk) == list(build(user.pk))


def test_it_refuses_a_value_of_another_type_than_the_first_calls(org):
    prepared = PreparedQuery(lambda pk: User.objects.filter(pk=pk))
    assert prepared.first(pk=org.requester.pk) == org.requester

    with pytest.raises(TypeError):
        prepared.first(pk=str(org.outsider.pk))
    with pytest.raises(TypeError):
        prepared.first(pk=True)
    assert prepared.first(pk=org.outsider.pk) == org.outsider


def test_it_refuses_a_bool_or_a_float_on_the_first_call(org):
    for value in (True, 1.0):
        with pytest.raises(TypeError):
            PreparedQuery(lambda pk: User.objects.filter(pk=pk)).first(pk=value)


@pytest.mark.parametrize("values", [{}, {"id": 1}, {"pk": 1, "id": 1}])
def test_it_refuses_other_names_than_the_build_functions(org, values):
    prepared = PreparedQuery(lambda pk: User.objects.filter(pk=pk))
    with pytest.raises(TypeError):
        prepared.first(**values)


def test_it_refuses_a_lookup_that_changes_the_value_and_says_which(org):
    prepared = PreparedQuery(lambda text: PurchaseRequest.objects.filter(title__icontains=text))
    with pytest.raises(ImproperlyConfigured, match=r"\(.*text.*\)"):
        prepared.list(text="Laptops")


def test_it_refuses_a_value_escaped_for_like_whatever_the_arguments_name(org):
    # SQLite compiles iexact to LIKE and escapes "_" and "%" in the value; replaying a value
    # unescaped would make them wildcards ("a_b" matching "axb").
    User.objects.create(username="axb")

    def build(name):
        return User.objects.filter(username__iexact=name)

    prepared = PreparedQuery(build)
    if connection.vendor == "sqlite":
        with pytest.raises(ImproperlyConfigured):
            prepared.list(name="a_b")
    else:  # PostgreSQL: UPPER(username) = UPPER(%s), the value as it is
        assert prepared.list(name="a_b") == list(build("a_b")) == []
        assert prepared.list(name="AXB") == list(build("AXB")) != []


def test_it_returns_nothing_for_a_queryset_that_can_never_match(requests_of_three, org):
    def build(uid):
        return PurchaseRequest.objects.filter(pk__in=[]).filter(requester_id=uid)

    prepared = PreparedQuery(build)
    for user in (org.requester, org.outsider):
        assert prepared.list(uid=user.pk) == list(build(user.pk)) == []
        assert prepared.first(uid=user.pk) is None
    with pytest.raises(TypeError):
        prepared.list(uid=str(org.requester.pk))


def saved_session(data: dict[str, Any]) -> str:
    store = SessionStore()
    store.update(data)
    store.save()
    assert store.session_key is not None
    return store.session_key


def test_it_loads_a_saved_session():
    keys = {name: saved_session({"name": name}) for name in ("alice", "otto")}

    for name, key in keys.items():
        loaded = SessionStore(key)
        assert loaded.load() == DatabaseSessionStore(key).load() == {"name": name}
        assert loaded.session_key == key


def test_it_loads_an_expired_session_as_empty_and_drops_its_key():
    key = saved_session({"name": "alice"})
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1)
    )

    loaded = SessionStore(key)
    assert loaded.load() == DatabaseSessionStore(key).load() == {}
    assert loaded.session_key is None


def test_it_loads_a_missing_session_as_empty():
    saved_session({"name": "alice"})

    loaded = SessionStore("no-such-session-key-0123456789")
    assert loaded.load() == {}
    assert loaded.session_key is None


def test_it_gets_the_signed_in_user(org):
    for user in (org.requester, org.outsider):
        assert UserBackend().get_user(user.pk) == ModelBackend().get_user(user.pk) == user


def test_it_gets_no_inactive_user(org):
    org.requester.is_active = False
    org.requester.save(update_fields=["is_active"])

    assert UserBackend().get_user(org.requester.pk) is None
    assert ModelBackend().get_user(org.requester.pk) is None
    assert UserBackend().get_user(org.outsider.pk) == org.outsider


def test_it_gets_no_user_for_a_missing_id(org):
    missing = User.objects.aggregate(last=Max("pk"))["last"] + 1

    assert UserBackend().get_user(missing) is None
    assert ModelBackend().get_user(missing) is None


# --- PreparedInsert -----------------------------------------------------------------------


def audit_values(org: Any, **changes: Any) -> dict[str, Any]:
    values = {
        "content_type": ContentType.objects.get_for_model(User),
        "object_id": org.requester.pk,
        "actor": org.manager,
        "action": "approved_step",
        "from_state": "pending",
        "to_state": "approved",
        "comment": "Line manager: fine %s ' \" \\ ünïcode",
    }
    return {**values, **changes}


def stored(entry: AuditEntry) -> dict[str, Any]:
    """What the database holds for the entry, by column, but its id and time."""
    columns = [
        field.attname
        for field in AuditEntry._meta.concrete_fields
        if field.name not in ("id", "created_at")
    ]
    return AuditEntry.objects.filter(pk=entry.pk).values(*columns).get()


def test_it_writes_the_row_create_writes(org):
    before = timezone.now()
    prepared = PreparedInsert(AuditEntry).create(**audit_values(org))
    by_orm = AuditEntry.objects.create(**audit_values(org))

    assert prepared.pk is not None
    assert prepared.pk != by_orm.pk
    assert stored(prepared) == stored(by_orm)
    assert stored(prepared)["comment"] == "Line manager: fine %s ' \" \\ ünïcode"
    # auto_now_add is filled in, on the instance as in the row.
    assert before <= prepared.created_at <= timezone.now()
    assert AuditEntry.objects.get(pk=prepared.pk).created_at == prepared.created_at
    assert not prepared._state.adding
    assert prepared._state.db == "default"


def test_it_compiles_once_and_writes_each_call_with_its_own_values(org, monkeypatch):
    insert = PreparedInsert(TaskOutbox)
    insert.create(task="first", args=[1], kwargs={}, options={})
    compiled: list[str] = []
    original = SQLInsertCompiler.as_sql
    monkeypatch.setattr(
        SQLInsertCompiler, "as_sql", lambda self: compiled.append("x") or original(self)
    )
    with CaptureQueriesContext(connection) as queries:
        second = insert.create(
            task="second", args=[2, "two"], kwargs={"to": "ünï"}, options={"headers": {"a": "b"}}
        )

    assert compiled == []
    assert len(queries) == 1
    assert TaskOutbox.objects.values_list("task", "args", "kwargs", "options").get(
        pk=second.pk
    ) == ("second", [2, "two"], {"to": "ünï"}, {"headers": {"a": "b"}})
    assert list(TaskOutbox.objects.order_by("pk").values_list("task", flat=True)) == [
        "first",
        "second",
    ]


def test_it_refuses_an_expression_and_writes_nothing(org):
    insert = PreparedInsert(AuditEntry)
    insert.create(**audit_values(org))

    with pytest.raises(TypeError, match="comment"):
        insert.create(**audit_values(org, comment=Upper(Value("fine"))))
    assert AuditEntry.objects.count() == 1


def test_it_refuses_a_model_whose_saves_a_receiver_listens_to(org):
    def receiver(**kwargs: Any) -> None:
        pass

    post_save.connect(receiver, sender=TaskOutbox)
    try:
        with pytest.raises(ImproperlyConfigured, match="post_save"):
            PreparedInsert(TaskOutbox).create(task="t", args=[], kwargs={}, options={})
    finally:
        post_save.disconnect(receiver, sender=TaskOutbox)
    assert not TaskOutbox.objects.exists()


def test_it_is_rolled_back_with_the_transaction(org):
    insert = PreparedInsert(TaskOutbox)

    def failing_change() -> None:
        with transaction.atomic():
            insert.create(task="t", args=[], kwargs={}, options={})
            raise RuntimeError("the change fails after its row was written")

    with pytest.raises(RuntimeError):
        failing_change()
    assert not TaskOutbox.objects.exists()


# --- prepared_save ------------------------------------------------------------------------


def test_a_prepared_save_writes_the_fields_named_and_nothing_else(org):
    request = PurchaseRequestFactory.create(requester=org.requester)
    stamped_before = request.updated_at
    request.title = "Docking stations"
    request.justification = "not written: not among the fields"
    request.submit()

    with CaptureQueriesContext(connection) as queries:
        prepared_save(request, update_fields=["title", "state", "submitted_at", "updated_at"])

    assert len(queries) == 1
    stored_request = PurchaseRequest.objects.get(pk=request.pk)
    assert (stored_request.title, stored_request.state) == ("Docking stations", "submitted")
    assert stored_request.submitted_at == request.submitted_at is not None
    assert stored_request.justification == "Three new engineers start next month."
    # auto_now is stamped, as save() stamps it, on the row and the instance.
    assert stored_request.updated_at == request.updated_at > stamped_before


def test_a_prepared_save_takes_a_foreign_keys_name_or_attname(org):
    request = PurchaseRequestFactory.create(requester=org.requester)
    request.requester = org.manager
    prepared_save(request, update_fields=["requester"])
    assert PurchaseRequest.objects.get(pk=request.pk).requester_id == org.manager.pk

    request.requester_id = org.outsider.pk
    prepared_save(request, update_fields=["requester_id"])
    assert PurchaseRequest.objects.get(pk=request.pk).requester_id == org.outsider.pk


def test_a_guarded_save_refuses_a_row_whose_state_changed_meanwhile(org):
    request = PurchaseRequestFactory.create(requester=org.requester)
    PurchaseRequest.objects.filter(pk=request.pk).update(state="cancelled")  # another writer
    request.submit()

    with pytest.raises(ConcurrentTransition):
        prepared_save(request, update_fields=["state"], where={"state": "draft"})
    assert PurchaseRequest.objects.get(pk=request.pk).state == "cancelled"


def test_after_a_guarded_save_the_instance_saves_again_as_the_orm_would(org):
    request = PurchaseRequestFactory.create(requester=org.requester)
    request.submit()
    prepared_save(request, update_fields=["state"], where={"state": "draft"})

    # django-fsm's own guard moved on to "submitted": its save() does not refuse the row.
    request.start_approval()
    request.save(update_fields=["state"])
    assert PurchaseRequest.objects.get(pk=request.pk).state == "pending_approval"


def test_a_prepared_save_of_a_row_that_is_gone_raises_as_save_does(org):
    request = PurchaseRequestFactory.create(requester=org.requester)
    PurchaseRequest.objects.filter(pk=request.pk).delete()
    request.title = "Gone"
    with pytest.raises(DatabaseError, match="did not affect any rows"):
        prepared_save(request, update_fields=["title"])


def test_a_prepared_save_refuses_expressions_and_fields_that_are_no_column(org):
    request = PurchaseRequestFactory.create(requester=org.requester)
    request.title = Upper(Value("laptops"))
    with pytest.raises(TypeError, match="title"):
        prepared_save(request, update_fields=["title"])
    with pytest.raises(ImproperlyConfigured, match="line_items"):
        prepared_save(request, update_fields=["line_items"])
    assert PurchaseRequest.objects.get(pk=request.pk).title.startswith("Laptops for")


def test_a_prepared_upsert_writes_a_row_then_overwrites_it(org):
    request = PurchaseRequestFactory.create(requester=org.requester)
    upsert = PreparedInsert(
        ApprovedTotal, update_fields=["total", "approved_at"], unique_fields=["request"]
    )
    first = timezone.now() - dt.timedelta(days=1)
    upsert.create(request=request, total=Decimal("100.00"), approved_at=first)
    upsert.create(request=request, total=Decimal("250.50"), approved_at=first + dt.timedelta(1))

    assert list(ApprovedTotal.objects.values_list("request_id", "total", "approved_at")) == [
        (request.pk, Decimal("250.50"), first + dt.timedelta(1))
    ]


def test_an_upsert_names_both_its_update_and_its_unique_fields():
    with pytest.raises(ImproperlyConfigured, match="both"):
        PreparedInsert(ApprovedTotal, update_fields=["total"])


# --- Prepared on the PostgreSQL server --------------------------------------------------------

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PREPARE and EXECUTE: PostgreSQL's statements"
)


def sent(queries: CaptureQueriesContext) -> list[str]:
    """The statements sent, by their first words."""
    return [" ".join(query["sql"].split()[:2]) for query in queries.captured_queries]


def prepared_here() -> set[str]:
    """The statements prepared on this session, by their text."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


@postgresql_only
def test_on_postgresql_a_query_is_prepared_once_per_session_then_executed(requests_of_three, org):
    by_requester = PreparedQuery(SHAPES["select_related"])
    with CaptureQueriesContext(connection) as first:
        alices = by_requester.list(uid=org.requester.pk)
    with CaptureQueriesContext(connection) as later:
        ottos = by_requester.list(uid=org.outsider.pk)
        heads = by_requester.list(uid=org.head.pk)

    # One round trip each: the first prepares and executes at once.
    assert [words.split()[0] for words in sent(first)] == ["PREPARE"]
    assert "; EXECUTE procurement_q" in first.captured_queries[0]["sql"]
    assert [words.split()[0] for words in sent(later)] == ["EXECUTE", "EXECUTE"]
    assert any('"requests_purchaserequest"' in text for text in prepared_here())
    build = SHAPES["select_related"]
    for rows, uid in ((alices, org.requester.pk), (ottos, org.outsider.pk), (heads, org.head.pk)):
        assert comparable(rows) == comparable(list(build(uid=uid)))
    assert [r.requester.username for r in heads] == [org.head.username]


@postgresql_only
def test_on_postgresql_inserts_and_saves_are_prepared_too(org):
    insert = PreparedInsert(AuditEntry)
    request = PurchaseRequestFactory.create(requester=org.requester)
    values, fine = audit_values(org), audit_values(org, comment="100% fine")
    with CaptureQueriesContext(connection) as queries:
        first = insert.create(**values)
        second = insert.create(**fine)
        # Fields no other test saves: saves are built once per process, and may be
        # prepared on this connection already.
        request.title, request.justification = "Docks, 50% off", "Old ones broke"
        prepared_save(request, update_fields=["justification", "title"])
        request.title = "Docking stations"
        prepared_save(request, update_fields=["justification", "title"])

    assert [words.split()[0] for words in sent(queries)] == [
        "PREPARE",
        "EXECUTE",
        "PREPARE",
        "EXECUTE",
    ]
    assert stored(first)["comment"] == "Line manager: fine %s ' \" \\ ünïcode"
    assert stored(second)["comment"] == "100% fine"
    assert PurchaseRequest.objects.values_list("title", "justification").get(pk=request.pk) == (
        "Docking stations",
        "Old ones broke",
    )


@postgresql_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # a new connection
def test_on_postgresql_a_new_connection_prepares_again(requests_of_three, org):
    by_requester = PreparedQuery(SHAPES["values"])
    by_requester.list(uid=org.requester.pk)
    # As a restart or a dropped connection would: a new session knows no statement.
    connection.close()

    with CaptureQueriesContext(connection) as queries:
        rows = by_requester.list(uid=org.requester.pk)

    assert [words.split()[0] for words in sent(queries)] == ["PREPARE"]
    assert rows == list(SHAPES["values"](uid=org.requester.pk))


@postgresql_only
def test_on_postgresql_a_failed_statement_prepares_everything_again_under_new_names(org):
    insert = PreparedInsert(ApprovedTotal)
    request = PurchaseRequestFactory.create(requester=org.requester)
    insert.create(request=request, total=Decimal("10.00"), approved_at=timezone.now())
    # A second total for the same request breaks the unique constraint; whether a statement
    # sent with the failing one was prepared cannot be told, so none is counted as prepared.
    with pytest.raises(DatabaseError), transaction.atomic():
        insert.create(request=request, total=Decimal("20.00"), approved_at=timezone.now())

    other = PurchaseRequestFactory.create(requester=org.requester)
    with CaptureQueriesContext(connection) as queries:
        insert.create(request=other, total=Decimal("30.00"), approved_at=timezone.now())

    assert [words.split()[0] for words in sent(queries)] == ["PREPARE"]
    assert dict(ApprovedTotal.objects.values_list("request_id", "total")) == {
        request.pk: Decimal("10.00"),
        other.pk: Decimal("30.00"),
    }


@postgresql_only
def test_on_postgresql_statements_lost_by_the_server_fail_once_then_are_prepared_again(
    requests_of_three, org
):
    by_requester = PreparedQuery(SHAPES["values_list_flat"])
    by_requester.list(uid=org.requester.pk)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # what a pooler's DISCARD ALL does to a session

    with pytest.raises(DatabaseError, match="does not exist"), transaction.atomic():
        by_requester.list(uid=org.requester.pk)

    assert by_requester.list(uid=org.requester.pk) == list(
        SHAPES["values_list_flat"](uid=org.requester.pk)
    )


def test_with_server_prepared_statements_off_the_sql_is_sent_as_it_is(
    requests_of_three, org, settings
):
    settings.DB_SERVER_PREPARED_STATEMENTS = False
    by_requester = PreparedQuery(SHAPES["exists"])
    insert = PreparedInsert(AuditEntry)
    values = audit_values(org)
    with CaptureQueriesContext(connection) as queries:
        rows = by_requester.list(uid=org.head.pk)
        by_requester.list(uid=org.head.pk)
        insert.create(**values)

    assert [words.split()[0] for words in sent(queries)] == ["SELECT", "SELECT", "INSERT"]
    assert comparable(rows) == comparable(list(SHAPES["exists"](uid=org.head.pk)))
