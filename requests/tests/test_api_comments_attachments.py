"""Comments (with @mentions) and file attachments through the API."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from requests.models import Attachment, Comment
from requests.services import comment_create
from requests.tests.helpers import draft_for, request_in_state

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def test_it_adds_a_comment_and_emails_the_people_it_mentions(
    org, mailoutbox, django_capture_on_commit_callbacks
):
    request = request_in_state(org, "submitted")

    with django_capture_on_commit_callbacks(execute=True):
        response = org.client_for(org.requester).post(
            f"/api/requests/{request.pk}/comments/",
            {"body": "@mark could you look at this? @nobody too"},
            content_type="application/json",
        )

    assert response.status_code == 201, response.content
    body = response.json()
    comment = Comment.objects.get()
    assert body == {
        "id": comment.pk,
        "author": {"id": org.requester.pk, "username": "alice", "name": "Alice Asker"},
        "body": "@mark could you look at this? @nobody too",
        "mentions": ["mark"],
        "created_at": body["created_at"],
    }
    assert [message.to for message in mailoutbox] == [[org.manager.email]]


def test_it_lists_comments_oldest_first(org):
    request = request_in_state(org, "submitted")
    comment_create(request_id=request.pk, by=org.manager, body="First")
    comment_create(request_id=request.pk, by=org.requester, body="Second, for @mark")

    response = org.client_for(org.requester).get(f"/api/requests/{request.pk}/comments/")

    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert [
        (c["author"]["username"], c["body"], c["mentions"]) for c in response.json()["results"]
    ] == [
        ("mark", "First", []),
        ("alice", "Second, for @mark", ["mark"]),
    ]


def test_it_lets_a_mentioned_user_see_and_answer_the_request(org):
    request = request_in_state(org, "submitted")
    comment_create(request_id=request.pk, by=org.requester, body="@sam is this vendor safe?")
    client = org.client_for(org.security)

    assert client.get(f"/api/requests/{request.pk}/").status_code == 200
    response = client.post(
        f"/api/requests/{request.pk}/comments/", {"body": "Yes."}, content_type="application/json"
    )
    assert response.status_code == 201


def test_it_refuses_an_empty_comment(org):
    request = request_in_state(org, "submitted")

    response = org.client_for(org.requester).post(
        f"/api/requests/{request.pk}/comments/", {"body": "   "}, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"body": ["This field may not be blank."]}
    assert not Comment.objects.exists()


def test_it_refuses_a_comment_longer_than_5000_characters(org):
    request = request_in_state(org, "submitted")

    response = org.client_for(org.requester).post(
        f"/api/requests/{request.pk}/comments/",
        {"body": "x" * 5001},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "body" in response.json()["errors"]
    assert not Comment.objects.exists()


def test_it_hides_comments_and_refuses_new_ones_for_someone_who_cannot_see_the_request(org):
    request = request_in_state(org, "submitted")
    comment_create(request_id=request.pk, by=org.manager, body="Internal")
    client = org.client_for(org.outsider)

    listed = client.get(f"/api/requests/{request.pk}/comments/")
    posted = client.post(
        f"/api/requests/{request.pk}/comments/",
        {"body": "Let me in"},
        content_type="application/json",
    )

    assert listed.status_code == posted.status_code == 404
    assert posted.json()["code"] == "not_found"
    assert Comment.objects.count() == 1


def test_it_attaches_a_pdf_to_a_draft(org):
    draft = draft_for(org)

    response = org.client_for(org.requester).post(
        f"/api/requests/{draft.pk}/attachments/",
        {"file": SimpleUploadedFile("quote.pdf", PDF, content_type="application/octet-stream")},
    )

    assert response.status_code == 201, response.content
    attachment = Attachment.objects.get()
    assert response.json() == {
        "id": attachment.pk,
        "filename": "quote.pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
        "uploaded_at": response.json()["uploaded_at"],
        "url": f"http://testserver/requests/{draft.pk}/attachments/{attachment.pk}/",
    }
    assert attachment.uploaded_by == org.requester
    assert [path.read_bytes() for path in stored_files()] == [PDF]


def test_it_takes_the_type_from_the_bytes_not_the_name(org):
    draft = draft_for(org)

    response = org.client_for(org.requester).post(
        f"/api/requests/{draft.pk}/attachments/",
        {"file": SimpleUploadedFile("screenshot.pdf", PNG, content_type="application/pdf")},
    )

    assert response.status_code == 201
    assert response.json()["content_type"] == "image/png"


def test_it_wants_a_file_part(org):
    draft = draft_for(org)

    response = org.client_for(org.requester).post(f"/api/requests/{draft.pk}/attachments/", {})

    assert response.status_code == 400
    assert response.json()["errors"] == {"file": ["No file was submitted."]}


def test_it_wants_multipart_for_attachments(org):
    draft = draft_for(org)

    response = org.client_for(org.requester).post(
        f"/api/requests/{draft.pk}/attachments/",
        {"file": "JVBERi0="},
        content_type="application/json",
    )

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert not Attachment.objects.exists()


def test_it_refuses_an_attachment_on_a_submitted_request(org):
    submitted = request_in_state(org, "submitted")

    response = org.client_for(org.requester).post(
        f"/api/requests/{submitted.pk}/attachments/", {"file": SimpleUploadedFile("late.pdf", PDF)}
    )

    assert response.status_code == 409
    assert not Attachment.objects.exists()
    assert stored_files() == []


def test_it_refuses_an_attachment_from_someone_else(org):
    draft = draft_for(org)

    by_manager = org.client_for(org.manager).post(
        f"/api/requests/{draft.pk}/attachments/", {"file": SimpleUploadedFile("a.pdf", PDF)}
    )
    by_outsider = org.client_for(org.outsider).post(
        f"/api/requests/{draft.pk}/attachments/", {"file": SimpleUploadedFile("b.pdf", PDF)}
    )

    assert by_manager.status_code == 403
    assert by_outsider.status_code == 404
    assert not Attachment.objects.exists()
    assert stored_files() == []


def test_it_answers_404_to_an_outsider_whatever_they_send(org):
    draft = draft_for(org)
    client = org.client_for(org.outsider)

    no_file = client.post(f"/api/requests/{draft.pk}/attachments/", {})
    blank_comment = client.post(
        f"/api/requests/{draft.pk}/comments/", {"body": ""}, content_type="application/json"
    )

    assert no_file.status_code == blank_comment.status_code == 404
    assert not Attachment.objects.exists()
    assert not Comment.objects.exists()


def test_it_refuses_more_attachments_than_the_limit(org, settings):
    settings.ATTACHMENTS_PER_REQUEST = 1
    draft = draft_for(org)
    client = org.client_for(org.requester)
    first = client.post(
        f"/api/requests/{draft.pk}/attachments/", {"file": SimpleUploadedFile("1.pdf", PDF)}
    )

    second = client.post(
        f"/api/requests/{draft.pk}/attachments/", {"file": SimpleUploadedFile("2.pdf", PDF)}
    )

    assert first.status_code == 201
    assert second.status_code == 400
    assert second.json()["errors"] == {"file": ["A request can have at most 1 attachments."]}
    assert Attachment.objects.count() == 1
    assert len(stored_files()) == 1
