"""The default security questionnaire, "IT security questionnaire" v1.

Admins change it by copying it as a new version in the admin (a sent version is frozen);
this only seeds a new install, and does nothing when v1 exists already.

Questions are phrased so that "yes" is the good answer (yes scores 100, no 0). Weights
run 1-5: 5 for the controls whose absence most often ends in a breach.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

NAME = "IT security questionnaire"
VERSION = 1


def _choices(*pairs: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"label": label, "score": score} for label, score in pairs]


# (section, [(text, help text, answer type, choices, weight, required)])
SECTIONS: list[tuple[str, list[tuple[str, str, str, list[dict[str, Any]], int, bool]]]] = [
    (
        "Access control & MFA",
        [
            (
                "Is multi-factor authentication required for every staff account that can "
                "reach our data or your production systems?",
                "Including administrators, support staff and remote access.",
                "yes_no",
                [],
                5,
                True,
            ),
            (
                "Is access granted by role and removed within one working day of a person leaving?",
                "",
                "yes_no",
                [],
                4,
                True,
            ),
            (
                "How often are access rights reviewed?",
                "",
                "choice",
                _choices(
                    ("Quarterly or more often", 100),
                    ("Twice a year", 70),
                    ("Once a year", 40),
                    ("Not reviewed", 0),
                ),
                3,
                True,
            ),
        ],
    ),
    (
        "Encryption at rest and in transit",
        [
            (
                "Is our data encrypted at rest (e.g. AES-256) everywhere you store it, "
                "including backups?",
                "",
                "yes_no",
                [],
                5,
                True,
            ),
            (
                "Is all traffic carrying our data encrypted with TLS 1.2 or later?",
                "",
                "yes_no",
                [],
                4,
                True,
            ),
            (
                "Who manages the encryption keys?",
                "",
                "choice",
                _choices(
                    ("A key management service or HSM, with rotation", 100),
                    ("Managed by our cloud provider's defaults", 70),
                    ("Managed by hand", 30),
                    ("Data is not encrypted", 0),
                ),
                2,
                True,
            ),
        ],
    ),
    (
        "Incident response",
        [
            (
                "Do you have a documented incident response plan, tested in the last 12 months?",
                "",
                "yes_no",
                [],
                4,
                True,
            ),
            (
                "How soon would you tell us of a breach affecting our data?",
                "",
                "choice",
                _choices(
                    ("Within 24 hours", 100),
                    ("Within 72 hours", 70),
                    ("Within a week", 30),
                    ("No commitment", 0),
                ),
                5,
                True,
            ),
            (
                "Describe your most recent security incident and what changed after it.",
                "Or write that you have had none in the last three years.",
                "text",
                [],
                2,
                False,
            ),
        ],
    ),
    (
        "Sub-processors",
        [
            (
                "Do you keep an up-to-date list of the sub-processors that handle our data, "
                "and tell us before adding one?",
                "",
                "yes_no",
                [],
                3,
                True,
            ),
            (
                "List the sub-processors that would handle our data, with what they do.",
                "",
                "text",
                [],
                2,
                True,
            ),
        ],
    ),
    (
        "Data location",
        [
            (
                "Where is our data stored and processed?",
                "",
                "choice",
                _choices(
                    ("UK or EU/EEA only", 100),
                    ("Countries with an adequacy decision", 80),
                    ("Elsewhere, under standard contractual clauses", 50),
                    ("Elsewhere, without safeguards", 0),
                ),
                4,
                True,
            ),
            (
                "Can you keep our data in a region we choose?",
                "",
                "yes_no",
                [],
                2,
                False,
            ),
        ],
    ),
    (
        "Certifications",
        [
            (
                "Which security certification do you hold for the service we would use?",
                "",
                "choice",
                _choices(
                    ("ISO 27001 and SOC 2 Type II", 100),
                    ("ISO 27001", 90),
                    ("SOC 2 Type II", 90),
                    ("SOC 2 Type I or Cyber Essentials Plus", 60),
                    ("Cyber Essentials", 40),
                    ("None", 0),
                ),
                4,
                True,
            ),
            (
                "Upload your current certificate or report.",
                "A PDF or an image. Leave it out if you hold none.",
                "file",
                [],
                3,
                False,
            ),
        ],
    ),
    (
        "Penetration testing",
        [
            (
                "Has an independent firm penetration-tested the service in the last 12 months?",
                "",
                "yes_no",
                [],
                4,
                True,
            ),
            (
                "Were all critical and high findings fixed?",
                "",
                "yes_no",
                [],
                3,
                True,
            ),
            (
                "Upload the summary of the latest test (executive summary is enough).",
                "",
                "file",
                [],
                2,
                False,
            ),
        ],
    ),
    (
        "Business continuity",
        [
            (
                "Are backups taken daily, kept off-site and restore-tested at least once a year?",
                "",
                "yes_no",
                [],
                4,
                True,
            ),
            (
                "What is your recovery time objective for the service?",
                "",
                "choice",
                _choices(
                    ("4 hours or less", 100),
                    ("Within 24 hours", 70),
                    ("Within 72 hours", 40),
                    ("Not defined", 0),
                ),
                3,
                True,
            ),
            (
                "Do you have a business continuity plan tested in the last 12 months?",
                "",
                "yes_no",
                [],
                3,
                True,
            ),
        ],
    ),
]


def seed(apps: Any, schema_editor: Any) -> None:
    Template = apps.get_model("vendors", "QuestionnaireTemplate")
    Section = apps.get_model("vendors", "QuestionnaireSection")
    Question = apps.get_model("vendors", "Question")
    template, created = Template.objects.get_or_create(
        name=NAME,
        version=VERSION,
        defaults={
            "description": "Our standard questions for suppliers that will hold or reach our "
            "data: answered by the vendor, scored by security into a risk tier.",
            "is_active": True,
        },
    )
    if not created:
        return
    for section_position, (title, questions) in enumerate(SECTIONS, start=1):
        section = Section.objects.create(template=template, title=title, position=section_position)
        for position, (text, help_text, answer_type, choices, weight, required) in enumerate(
            questions, start=1
        ):
            Question.objects.create(
                section=section,
                text=text,
                help_text=help_text,
                answer_type=answer_type,
                choices=choices,
                weight=weight,
                required=required,
                position=position,
            )


class Migration(migrations.Migration):
    dependencies = [("vendors", "0002_vendor_types")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
