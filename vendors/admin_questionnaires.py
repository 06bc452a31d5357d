"""Questionnaire templates in the admin: a template with its sections inline, a section with
its questions inline (reached from the template's "Change" links).

A version that has been sent is frozen, since assessments point at its questions and their
scores must keep meaning what they meant: the admin shows it read-only and says why. To
change it, use the action "Copy as a new version", which makes version + 1 with every
section and question, and retires the old version from new sends.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Max, QuerySet
from django.http import HttpRequest, HttpResponse

from procurement.services import audit_record
from vendors.assessments import question_choices_errors
from vendors.models import Question, QuestionnaireSection, QuestionnaireTemplate

FROZEN_NOTE = (
    "{template} has been sent to vendors, so it is read-only: its questions and scores must "
    "keep meaning what they meant for the assessments that used it. To change it, select it "
    'in the list and run "Copy as a new version".'
)


def _in_use(template: QuestionnaireTemplate | None) -> bool:
    return template is not None and template.pk is not None and template.is_in_use


class QuestionForm(forms.ModelForm):
    class Meta:
        model = Question
        fields = ["position", "text", "help_text", "answer_type", "choices", "weight", "required"]
        help_texts = {
            "choices": 'Choice questions only: [{"label": "Quarterly", "score": 100}, '
            '{"label": "Never", "score": 0}] (at least two; scores 0-100).',
            "weight": "1 (minor) to 5 (essential); how much this answer counts in the score.",
        }

    def clean_choices(self) -> Any:
        # An emptied box means "no choices", not JSON null.
        return self.cleaned_data.get("choices") or []

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        answer_type = cleaned.get("answer_type")
        if answer_type and "choices" not in self.errors:
            for error in question_choices_errors(
                answer_type=answer_type, choices=cleaned.get("choices") or []
            ):
                self.add_error("choices", error)
        return cleaned


class QuestionInline(admin.StackedInline):
    model = Question
    form = QuestionForm
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _in_use(obj.template if obj else None) and super().has_add_permission(
            request, obj
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _in_use(obj.template if obj else None) and super().has_change_permission(
            request, obj
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _in_use(obj.template if obj else None) and super().has_delete_permission(
            request, obj
        )


class SectionInline(admin.TabularInline):
    model = QuestionnaireSection
    extra = 0
    fields = ["position", "title", "question_count"]
    readonly_fields = ["question_count"]
    show_change_link = True  # the questions are edited on the section's own page

    @admin.display(description="questions")
    def question_count(self, section: QuestionnaireSection) -> int:
        return section.questions.count() if section.pk else 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _in_use(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _in_use(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _in_use(obj) and super().has_delete_permission(request, obj)


def template_copy_as_new_version(
    *, template: QuestionnaireTemplate, by: Any
) -> QuestionnaireTemplate:
    """Copy `template` with its sections and questions as the next version of its name.

    The copy is active and the old version inactive (kept for the assessments that used
    it). Atomic, with an audit entry on the copy.
    """
    with transaction.atomic():
        # Locked: two admins copying at once would otherwise pick the same version number.
        list(QuestionnaireTemplate.objects.select_for_update().filter(name=template.name))
        latest = QuestionnaireTemplate.objects.filter(name=template.name).aggregate(
            latest=Max("version")
        )["latest"]
        copy = QuestionnaireTemplate.objects.create(
            name=template.name,
            version=(latest or 0) + 1,
            description=template.description,
            is_active=True,
        )
        for section in template.sections.prefetch_related("questions"):
            section_copy = QuestionnaireSection.objects.create(
                template=copy, title=section.title, position=section.position
            )
            Question.objects.bulk_create(
                Question(
                    section=section_copy,
                    text=question.text,
                    help_text=question.help_text,
                    answer_type=question.answer_type,
                    choices=question.choices,
                    weight=question.weight,
                    required=question.required,
                    position=question.position,
                )
                for question in section.questions.all()
            )
        QuestionnaireTemplate.objects.filter(pk=template.pk).update(is_active=False)
        audit_record(
            target=copy,
            actor=by,
            action="copied",
            comment=f"Copied from {template} (now inactive).",
        )
    return copy


@admin.register(QuestionnaireTemplate)
class QuestionnaireTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "is_active", "sent"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    inlines = [SectionInline]
    actions = ["copy_as_new_version"]

    @admin.display(boolean=True, description="sent to vendors")
    def sent(self, template: QuestionnaireTemplate) -> bool:
        return template.is_in_use

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # `version` is set by "Copy as a new version", never typed.
        return ["version"] if obj is not None else []

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _in_use(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _in_use(obj) and super().has_delete_permission(request, obj)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        template = self.get_object(request, object_id)
        if template is not None and template.is_in_use and request.method == "GET":
            messages.warning(request, FROZEN_NOTE.format(template=template))
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Copy as a new version", permissions=["add"])
    def copy_as_new_version(
        self, request: HttpRequest, queryset: QuerySet[QuestionnaireTemplate]
    ) -> None:
        for template in queryset:
            copy = template_copy_as_new_version(template=template, by=request.user)
            self.message_user(
                request,
                f"{copy} created from {template}, which is now inactive. Edit the copy, "
                "then send it.",
                messages.SUCCESS,
            )


@admin.register(QuestionnaireSection)
class QuestionnaireSectionAdmin(admin.ModelAdmin):
    list_display = ["title", "template", "position"]
    inlines = [QuestionInline]
    fields = ["template", "title", "position"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["template"] if obj is not None else []

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "template":
            # A section may be added only to a version nobody has been sent yet.
            kwargs["queryset"] = QuestionnaireTemplate.objects.filter(assessments__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return False  # reached from its template's page, not listed on its own

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _in_use(obj.template if obj else None) and super().has_change_permission(
            request, obj
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _in_use(obj.template if obj else None) and super().has_delete_permission(
            request, obj
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        section = self.get_object(request, object_id)
        if section is not None and section.template.is_in_use and request.method == "GET":
            messages.warning(request, FROZEN_NOTE.format(template=section.template))
        return super().change_view(request, object_id, form_url, extra_context)
