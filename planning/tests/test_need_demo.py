"""The demo needs: three open needs of two departments, one shared, seeded once."""

from __future__ import annotations

import pytest
from django.utils import timezone

from planning.models import Need, NeedComment, NeedStatus, NeedSupport
from planning.needs_demo import seed_needs

pytestmark = pytest.mark.django_db


def test_it_seeds_three_open_needs_with_a_support_and_an_alternative_once(org):
    created = seed_needs(now=timezone.now())
    again = seed_needs(now=timezone.now())

    assert (created, again) == (3, 0)
    assert Need.objects.filter(status=NeedStatus.OPEN).count() == 3
    assert set(Need.objects.values_list("department__code", flat=True)) == {"it", "marketing"}
    assert list(NeedSupport.objects.values_list("department__code", flat=True)) == ["marketing"]
    assert list(NeedComment.objects.values_list("kind", "author__username")) == [
        ("alternative", "pat")
    ]


def test_it_does_nothing_without_the_demo_users(db):
    assert seed_needs(now=timezone.now()) == 0
    assert not Need.objects.exists()
