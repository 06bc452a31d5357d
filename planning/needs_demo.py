"""Demo needs for a local install (called by seed_demo after its users exist): three open
needs of IT and Marketing, one of which Marketing needs too and has an alternative
suggested by procurement. Made through the services, as people would; idempotent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from planning.models import Need, NeedComment, NeedCommentKind, NeedStatus
from planning.needs import NeedInput, need_comment_add, need_create, need_support_add
from procurement.models import Category, User


@dataclass(frozen=True)
class _DemoNeed:
    title: str
    problem: str
    poster: str
    people: int
    budget: str
    days: int
    category: str


NEEDS = [
    _DemoNeed(
        "Video calls keep dropping in the small meeting rooms",
        "The four small meeting rooms have laptop webcams only: remote colleagues cannot "
        "hear whoever sits away from the laptop, and calls drop when the room's Wi-Fi is "
        "busy. Teams book the big room instead, which is free less than half the time.",
        "alice",
        40,
        "6000.00",
        45,
        "hardware",
    ),
    _DemoNeed(
        "Shared team accounts need a password manager",
        "Passwords of shared accounts (supplier portals, social media, the domain registrar) "
        "live in a spreadsheet. Nobody knows who has seen them, and leavers keep access.",
        "mark",
        60,
        "2400.00",
        60,
        "software",
    ),
    _DemoNeed(
        "Large-format printing for trade fairs",
        "Banners and roll-ups for the three trade fairs a year are printed by whoever is "
        "nearest the venue, at three times the price and often late.",
        "otto",
        8,
        "1500.00",
        90,
        "services",
    ),
]
SUPPORT_NOTE = "Our two meeting rooms have the same problem with client calls."
ALTERNATIVE = (
    "The video-conferencing licence we already pay for includes room kits at a discount: "
    "ask procurement before buying separate cameras."
)


def seed_needs(*, now: dt.datetime) -> int:
    """Create the demo needs that do not exist yet (by title); returns how many it made.
    Needs the demo users alice, mark, otto and pat; does nothing without them."""
    users = {
        user.username: user
        for user in User.objects.filter(username__in=["alice", "mark", "otto", "pat"])
    }
    if len(users) < 4:
        return 0
    created = 0
    today = now.date()
    for spec in NEEDS:
        if Need.objects.filter(title=spec.title).exists():
            continue
        poster = users[spec.poster]
        assert poster.department is not None
        need_create(
            data=NeedInput(
                title=spec.title,
                problem=spec.problem,
                department=poster.department,
                people_affected=spec.people,
                needed_by=today + dt.timedelta(days=spec.days),
                rough_budget=Decimal(spec.budget),
                category=Category.objects.filter(code=spec.category).first(),
            ),
            by=poster,
        )
        created += 1
    shared = Need.objects.filter(title=NEEDS[0].title).first()
    otto = users["otto"]
    if shared is not None and otto.department is not None:
        # A need consolidated or withdrawn since the last run takes no support.
        if (
            shared.status == NeedStatus.OPEN
            and not shared.supports.filter(department=otto.department).exists()
        ):
            need_support_add(
                need_id=shared.pk,
                by=otto,
                people_affected=25,
                rough_budget=Decimal("3000.00"),
                note=SUPPORT_NOTE,
            )
        if not NeedComment.objects.filter(need=shared, kind=NeedCommentKind.ALTERNATIVE).exists():
            need_comment_add(
                need_id=shared.pk,
                by=users["pat"],
                body=ALTERNATIVE,
                kind=NeedCommentKind.ALTERNATIVE,
            )
    return created
