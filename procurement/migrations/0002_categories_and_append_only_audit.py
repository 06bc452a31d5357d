from django.db import migrations

CATEGORIES = [
    ("hardware", "Hardware"),
    ("software", "Software / SaaS"),
    ("services", "Services"),
    ("cloud", "Cloud"),
    ("telecom", "Telecom"),
    ("other", "Other"),
]

# On PostgreSQL the audit trail is append-only in the database itself, so not
# even a raw UPDATE or DELETE from a shell can rewrite history.
APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION procurement_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER procurement_auditentry_append_only
    BEFORE UPDATE OR DELETE ON procurement_auditentry
    FOR EACH ROW EXECUTE FUNCTION procurement_audit_append_only();
"""
DROP_SQL = """
DROP TRIGGER IF EXISTS procurement_auditentry_append_only ON procurement_auditentry;
DROP FUNCTION IF EXISTS procurement_audit_append_only();
"""


def add_categories(apps, schema_editor):
    Category = apps.get_model("procurement", "Category")
    for code, name in CATEGORIES:
        Category.objects.get_or_create(code=code, defaults={"name": name})


def guard_audit(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_SQL)


def unguard_audit(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [("procurement", "0001_initial")]

    operations = [
        migrations.RunPython(add_categories, migrations.RunPython.noop),
        migrations.RunPython(guard_audit, unguard_audit),
    ]
