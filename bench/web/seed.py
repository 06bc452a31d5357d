"""Seed the web benchmark's throwaway database; run by bench/web/run.py, not by hand.

    DJANGO_SETTINGS_MODULE=bench.web.settings DATABASE_URL=... SECRET_KEY=... \\
        .venv/bin/python bench/web/seed.py --out FILE [--requests 400] [--decisions 10000]

Everything goes through the services a person's clicks would call (purchase_request_create,
the submit and approve transitions), so the rows, audit entries and routes are the real
ones. What it makes, in one department ("Engineering", head and line manager Maria):

- Rita, the requester whose list the list API, list page and detail page are read as: her
  `--requests` requests with three line items each, a fifth still drafts, the rest submitted
  and about half of those approved by Maria;
- ten colleagues (reporting to Maria) with `--decisions` + CONFIRM_POOL + WARMUP_POOL
  submitted requests, each waiting for one step that Maria alone decides: the decision POSTs
  each take a fresh one, the confirmation page GETs rotate over others;
- a second department (Operations) with requests of its own, so that the visibility filter
  has rows to leave out.

Writes a JSON file with what the load tool needs: a session cookie and an API token for
Rita, the request ids to rotate through, and the email-link paths (tokens signed with
SECRET_KEY, which the server must share).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# Confirmation pages are only read, so a few hundred links are plenty to rotate over.
CONFIRM_POOL = 300
# Decisions spent warming the server up, before the measured run.
WARMUP_POOL = 400
SEED = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON")
    parser.add_argument("--requests", type=int, default=400, help="the list user's requests")
    parser.add_argument("--decisions", type=int, default=10000, help="pending steps to decide")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.web.settings")

    import django

    django.setup()
    started = time.monotonic()
    fixture = seed(requests=args.requests, decisions=args.decisions)
    args.out.write_text(json.dumps(fixture))
    pending = sum(
        len(fixture[key]) for key in ("decide_paths", "confirm_paths", "warmup_decide_paths")
    )
    print(
        f"seeded {args.requests} requests for the list user and {pending} pending approvals "
        f"in {time.monotonic() - started:.1f} s",
        flush=True,
    )


def seed(*, requests: int, decisions: int) -> dict[str, Any]:
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from approvals.models import (
        ApprovalPolicy,
        ApprovalRule,
        ApprovalStep,
        ApproverKind,
        Mode,
        NoMatch,
        StepState,
    )
    from approvals.services import approval_step_decide
    from approvals.tokens import decision_token_make
    from procurement.models import Category, CostCentre, Department, Role, User, UserRole
    from requests.models import PurchaseRequest
    from requests.services import (
        LineItemInput,
        RequestInput,
        purchase_request_create,
        purchase_request_transition,
    )

    rng = random.Random(SEED)
    engineering = Department.objects.create(code="eng", name="Engineering")
    operations = Department.objects.create(code="ops", name="Operations")
    eng_cc = CostCentre.objects.create(code="ENG-100", name="Engineering", department=engineering)
    ops_cc = CostCentre.objects.create(code="OPS-100", name="Operations", department=operations)
    categories = list(Category.objects.filter(code__in=["hardware", "services", "cloud"]))

    def person(username: str, first: str, last: str, role: str, **fields: object) -> User:
        user = User.objects.create(
            username=username,
            first_name=first,
            last_name=last,
            email=f"{username}@example.com",
            **fields,
        )
        user.set_unusable_password()  # the benchmark signs in by session and token only
        user.save(update_fields=["password"])
        UserRole.objects.create(user=user, role=role)
        return user

    maria = person("maria", "Maria", "Manager", Role.MANAGER, department=engineering)
    engineering.head = maria
    engineering.save(update_fields=["head"])
    person("fred", "Fred", "Finance", Role.FINANCE, department=operations)
    rita = person(
        "rita", "Rita", "Requester", Role.REQUESTER, department=engineering, manager=maria
    )
    colleagues = [
        person(
            f"eng{n:02d}",
            f"Engineer{n:02d}",
            "Colleague",
            Role.REQUESTER,
            department=engineering,
            manager=maria,
        )
        for n in range(1, 11)
    ]
    olga = person("olga", "Olga", "Ops", Role.MANAGER, department=operations)
    oscar = person("oscar", "Oscar", "Ops", Role.REQUESTER, department=operations, manager=olga)

    policy = ApprovalPolicy.objects.create(
        name="Standard purchasing",
        is_active=True,
        no_match=NoMatch.LINE_MANAGER,
        one_decision_per_person=True,
    )
    ApprovalRule.objects.create(
        policy=policy,
        position=0,
        name="Line manager",
        approver_kind=ApproverKind.LINE_MANAGER,
        mode=Mode.ONE,
        stage=1,
    )
    ApprovalRule.objects.create(
        policy=policy,
        position=1,
        name="Finance review",
        approver_kind=ApproverKind.ROLE,
        approver_role=Role.FINANCE,
        mode=Mode.ANY,
        stage=2,
        min_total=Decimal("5000"),
    )

    needed_by = timezone.localdate() + dt.timedelta(days=45)
    items = [
        ("14-inch laptop, 32 GB", "1450.00"),
        ("USB-C dock", "189.00"),
        ("27-inch monitor", "329.00"),
        ("Support hours", "95.00"),
        ("Cloud credits", "250.00"),
        ("Headset", "79.00"),
    ]

    def raise_request(
        requester: User, department: Department, cost_centre: CostCentre, n: int, *, small: bool
    ) -> PurchaseRequest:
        picked = rng.sample(items, 3)
        lines = [
            LineItemInput(description, Decimal(rng.randint(1, 2 if small else 4)), Decimal(price))
            for description, price in picked
        ]
        return purchase_request_create(
            requester=requester,
            data=RequestInput(
                title=f"{picked[0][0]} and more for the team ({n})",
                justification="New starters and replacements for equipment out of warranty.",
                department=department,
                cost_centre=cost_centre,
                category=rng.choice(categories),
                needed_by=needed_by,
                currency=settings.BASE_CURRENCY,
                no_objective_reason="Day-to-day running of the team",
                line_items=lines,
            ),
        )

    def submit(request: PurchaseRequest) -> None:
        purchase_request_transition(request_id=request.pk, by=request.requester, action="submit")

    # The list user's own requests, in every common state.
    rita_ids = []
    for n in range(requests):
        request = raise_request(rita, engineering, eng_cc, n, small=n % 3 != 0)
        rita_ids.append(request.pk)
        if n % 5 == 0:
            continue  # a draft
        submit(request)
        if n % 2 == 0:
            step = ApprovalStep.objects.get(request=request, state=StepState.PENDING)
            approval_step_decide(step_id=step.pk, by=maria, action="approve")

    # Another department's requests: the list must leave them out.
    for n in range(max(requests // 4, 1)):
        submit(raise_request(oscar, operations, ops_cc, n, small=True))

    # Maria's queue: small requests (one step, hers), so that every decision finishes a
    # request. Ten go through the services; the rest are copies of them (rows, line items,
    # step, assignment and audit entries) made with bulk_create, because submitting
    # thousands one by one takes minutes and the copies are the same rows.
    templates = []
    for n in range(len(colleagues)):
        request = raise_request(colleagues[n], engineering, eng_cc, n, small=True)
        submit(request)
        templates.append(PurchaseRequest.objects.get(pk=request.pk))  # as submitted
    pending = [
        *templates,
        *_copies(templates, decisions + CONFIRM_POOL + WARMUP_POOL - len(templates)),
    ]
    steps = dict(
        ApprovalStep.objects.filter(request__in=pending, state=StepState.PENDING).values_list(
            "request_id", "id"
        )
    )
    versions = dict(
        PurchaseRequest.objects.filter(pk__in=[r.pk for r in pending]).values_list("id", "version")
    )
    paths = [
        "/approvals/email/"
        + decision_token_make(
            step_id=steps[r.pk], approver_id=maria.pk, request_version=versions[r.pk]
        )
        + "/"
        for r in pending
    ]
    rng.shuffle(paths)

    # Fresh tables have no planner statistics and, after the seed's updates, thousands of dead
    # row versions; a production database has autovacuum for both. (This machine's
    # PostgreSQL runs with autovacuum off: the audit chain's update alone left 21,000 dead
    # rows, and every index scan on requests stepped over them.)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    client = Client()
    client.force_login(rita)
    return {
        "list_user_id": rita.pk,
        "session_cookie": f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}",
        "api_token": Token.objects.create(user=rita).key,
        "detail_ids": rita_ids,
        "warmup_decide_paths": paths[:WARMUP_POOL],
        "confirm_paths": paths[WARMUP_POOL : WARMUP_POOL + CONFIRM_POOL],
        "decide_paths": paths[WARMUP_POOL + CONFIRM_POOL :],
    }


def _copies(templates: list[Any], count: int) -> list[Any]:
    """`count` copies of the submitted `templates` (round robin), each with its line items,
    approval steps, their assignments and the request's audit entries; chained afterwards."""
    from django.db import transaction

    from approvals.models import ApprovalStep, StepApprover
    from procurement.audit_chain import audit_chain_seal
    from procurement.models import AuditEntry
    from requests.models import LineItem, PurchaseRequest

    def fields(obj: Any, **changes: Any) -> Any:
        values = {
            f.attname: getattr(obj, f.attname)
            for f in obj._meta.concrete_fields
            if not f.primary_key
        }
        return type(obj)(**{**values, **changes})

    made: list[Any] = []
    batch = 500
    for start in range(0, count, batch):
        size = min(batch, count - start)
        sources = [templates[(start + i) % len(templates)] for i in range(size)]
        with transaction.atomic():
            copies = PurchaseRequest.objects.bulk_create(
                [
                    fields(source, title=f"{source.title} #{start + i}")
                    for i, source in enumerate(sources)
                ]
            )
            pairs = list(zip(sources, copies, strict=True))
            LineItem.objects.bulk_create(
                [
                    fields(line, request_id=copy.pk)
                    for source, copy in pairs
                    for line in source.line_items.all()
                ]
            )
            step_pairs = []
            for source, copy in pairs:
                for step in ApprovalStep.objects.filter(request=source):
                    step_pairs.append((step, fields(step, request_id=copy.pk)))
            ApprovalStep.objects.bulk_create([new for _, new in step_pairs])
            StepApprover.objects.bulk_create(
                [
                    fields(assignment, step_id=new.pk)
                    for old, new in step_pairs
                    for assignment in old.approvers.all()
                ]
            )
            AuditEntry.objects.bulk_create(
                [
                    AuditEntry(
                        content_type_id=entry.content_type_id,
                        object_id=copy.pk,
                        actor_id=entry.actor_id,
                        action=entry.action,
                        from_state=entry.from_state,
                        to_state=entry.to_state,
                        comment=entry.comment,
                    )
                    for source, copy in pairs
                    for entry in AuditEntry.objects.filter(
                        content_type__model="purchaserequest", object_id=source.pk
                    ).order_by("id")
                ]
            )
        made.extend(copies)
    audit_chain_seal()
    return made


if __name__ == "__main__":
    main()
