"""Admins manage departments, cost centres, categories, users and roles in the Django admin."""

from __future__ import annotations

import pytest

from procurement.models import AuditEntry, Category, CostCentre, Department, Role, User, UserRole

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["department", "costcentre", "category", "user", "auditentry"])
def test_it_lists_the_organisation_for_admins(org, model):
    response = org.client_for(org.admin).get(f"/admin/procurement/{model}/")
    assert response.status_code == 200


def test_it_keeps_the_admin_from_everyone_else(org):
    response = org.client_for(org.procurement).get("/admin/procurement/department/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_it_adds_a_department_with_a_cost_centre(org):
    response = org.client_for(org.admin).post(
        "/admin/procurement/department/add/",
        {
            "code": "legal",
            "name": "Legal",
            "head": org.legal.pk,
            "cost_centres-TOTAL_FORMS": "1",
            "cost_centres-INITIAL_FORMS": "0",
            "cost_centres-0-code": "LEG-1",
            "cost_centres-0-name": "Contracts",
            "cost_centres-0-is_active": "on",
        },
    )

    assert response.status_code == 302
    department = Department.objects.get(code="legal")
    assert department.head == org.legal
    assert list(
        CostCentre.objects.filter(department=department).values_list("code", flat=True)
    ) == ["LEG-1"]


def test_it_adds_a_category(org):
    response = org.client_for(org.admin).post(
        "/admin/procurement/category/add/",
        {"code": "training", "name": "Training", "is_active": "on"},
    )
    assert response.status_code == 302
    assert Category.objects.filter(code="training").exists()


def test_it_gives_a_user_roles_and_a_line_manager(org):
    bob = User.objects.create_user(username="bob", password="x-long-password-1")
    client = org.client_for(org.admin)
    page = client.get(f"/admin/procurement/user/{bob.pk}/change/")
    assert page.status_code == 200

    response = client.post(
        f"/admin/procurement/user/{bob.pk}/change/",
        {
            "username": "bob",
            "first_name": "Bob",
            "last_name": "Builder",
            "email": "bob@example.com",
            "is_active": "on",
            "date_joined_0": "2026-01-05",
            "date_joined_1": "09:00:00",
            "department": org.department.pk,
            "manager": org.manager.pk,
            "roles-TOTAL_FORMS": "2",
            "roles-INITIAL_FORMS": "0",
            "roles-0-role": Role.FINANCE,
            "roles-1-role": Role.LEGAL,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    bob.refresh_from_db()
    assert bob.manager == org.manager
    assert bob.department == org.department
    assert set(UserRole.objects.filter(user=bob).values_list("role", flat=True)) == {
        "finance",
        "legal",
    }
    assert User.objects.get(pk=bob.pk).has_role(Role.FINANCE)


def test_it_shows_the_audit_trail_read_only(org):
    from procurement.services import audit_record

    entry = audit_record(target=org.department, actor=org.admin, action="renamed")
    client = org.client_for(org.admin)

    assert client.get(f"/admin/procurement/auditentry/{entry.pk}/change/").status_code == 200
    assert (
        client.post(
            f"/admin/procurement/auditentry/{entry.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
