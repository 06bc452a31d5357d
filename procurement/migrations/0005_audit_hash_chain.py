"""Hash-chain the audit trail, and close it to rewriting on PostgreSQL (docs/security.md).

1. Each entry gets `chain_index`, `prev_hash` and `hash`, filled in just after the
   transaction that wrote it commits (procurement/audit_chain.py); one `AuditChainHead`
   row holds the chain's newest link. Existing entries are chained here, in id order.
2. On PostgreSQL:
   - `procurement_audit_chain()` chains waiting entries, under an advisory lock, as the
     table's owner (SECURITY DEFINER), so the application's role needs no UPDATE on the
     table at all;
   - the append-only trigger of 0002 lets an UPDATE through only when it fills in an
     entry's empty chain fields and changes nothing else, refuses every other UPDATE and
     every DELETE, and refuses TRUNCATE unless the session says
     `procurement.audit_allow_truncate = on` (the test database does, for pytest's flush:
     conftest.py);
   - every role but the owner loses UPDATE, DELETE and TRUNCATE on the audit table and
     every write on the chain head; the roles that may INSERT entries may call
     procurement_audit_chain().
"""

from django.db import migrations, models

from procurement.audit_chain import GENESIS_HASH, audit_entry_digest

BATCH = 2000
# pg_advisory_xact_lock key of the chain: int.from_bytes(b"auditcha", "big").
CHAIN_LOCK_KEY = 7022629598041172065

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION procurement_audit_append_only() RETURNS trigger AS $$
BEGIN
    -- Chaining: an entry's empty chain fields filled in, nothing else touched.
    IF TG_OP = 'UPDATE'
       AND OLD.chain_index IS NULL AND NEW.chain_index IS NOT NULL
       AND to_jsonb(NEW) - ARRAY['chain_index', 'prev_hash', 'hash']
           = to_jsonb(OLD) - ARRAY['chain_index', 'prev_hash', 'hash'] THEN
        RETURN NEW;
    END IF;
    -- A test database may be flushed (TRUNCATE) between tests; conftest.py sets this
    -- for the test database only. Anyone who can run SQL can set it, so it guards
    -- against accidents (`manage.py flush` on production), not against an attacker:
    -- that is the job of the privileges below and of a role that does not own the table.
    IF TG_OP = 'TRUNCATE'
       AND coalesce(current_setting('procurement.audit_allow_truncate', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit entries are append-only: % refused', TG_OP
        USING HINT = 'The audit trail is never rewritten; see docs/security.md, "Audit log".';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER procurement_auditentry_no_truncate
    BEFORE TRUNCATE ON procurement_auditentry
    FOR EACH STATEMENT EXECUTE FUNCTION procurement_audit_append_only();
"""

# The SQL twin of procurement.audit_chain._seal_in_python; the canonical text is
# audit_entry_digest's, built with to_json (which escapes strings as Python's json does
# with ensure_ascii=False). It runs as the table's owner, with the search path fixed to the
# table's schema (so a caller's own objects cannot stand in for its tables).
CHAIN_FUNCTION_SQL = """
DO $do$
BEGIN
    EXECUTE format($create$
        CREATE OR REPLACE FUNCTION procurement_audit_chain(asynchronous boolean)
        RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = %I, pg_temp AS $body$
        DECLARE
            head_hash text;
            head_length bigint;
            head_last bigint;
            entry record;
            canonical text;
            entry_hash text;
            sealed integer := 0;
        BEGIN
            PERFORM pg_advisory_xact_lock(CHAIN_LOCK_KEY);
            IF NOT EXISTS (SELECT 1 FROM procurement_auditentry WHERE chain_index IS NULL) THEN
                RETURN 0;  -- nothing written: the caller's commit costs nothing
            END IF;
            IF asynchronous THEN
                -- Entries are durable with their change; a chaining lost in a crash is redone.
                PERFORM set_config('synchronous_commit', 'off', true);
            END IF;
            SELECT hash, length, last_entry_id INTO head_hash, head_length, head_last
            FROM procurement_auditchainhead WHERE id = 1;
            IF NOT FOUND THEN
                -- Missing (a flushed test database, or deleted): rebuilt from the chain.
                SELECT hash, chain_index, id INTO head_hash, head_length, head_last
                FROM procurement_auditentry WHERE chain_index IS NOT NULL
                ORDER BY chain_index DESC LIMIT 1;
                IF NOT FOUND THEN
                    head_hash := repeat('0', 64);
                    head_length := 0;
                    head_last := NULL;
                END IF;
                INSERT INTO procurement_auditchainhead (id, hash, length, last_entry_id)
                VALUES (1, head_hash, head_length, head_last);
            END IF;
            FOR entry IN
                SELECT e.id, e.object_id, e.actor_id, e.action, e.from_state, e.to_state,
                       e.comment, e.created_at, ct.app_label || '.' || ct.model AS content_type
                FROM procurement_auditentry AS e
                JOIN django_content_type AS ct ON ct.id = e.content_type_id
                WHERE e.chain_index IS NULL
                ORDER BY e.id
            LOOP
                canonical := '{"action":' || to_json(entry.action)::text
                    || ',"actor":' || coalesce(entry.actor_id::text, 'null')
                    || ',"comment":' || to_json(entry.comment)::text
                    || ',"content_type":' || to_json(entry.content_type)::text
                    || ',"created_at":"'
                    || to_char(entry.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
                    || '+00:00"'
                    || ',"from_state":' || to_json(entry.from_state)::text
                    || ',"object_id":' || entry.object_id::text
                    || ',"prev_hash":"' || head_hash || '"'
                    || ',"to_state":' || to_json(entry.to_state)::text
                    || '}';
                entry_hash := encode(sha256(convert_to(canonical, 'UTF8')), 'hex');
                UPDATE procurement_auditentry
                SET chain_index = head_length + 1, prev_hash = head_hash, hash = entry_hash
                WHERE id = entry.id;
                head_hash := entry_hash;
                head_length := head_length + 1;
                head_last := entry.id;
                sealed := sealed + 1;
            END LOOP;
            UPDATE procurement_auditchainhead
            SET hash = head_hash, length = head_length, last_entry_id = head_last
            WHERE id = 1;
            RETURN sealed;
        END;
        $body$
    $create$, current_schema());
END;
$do$;
REVOKE ALL ON FUNCTION procurement_audit_chain(boolean) FROM PUBLIC;
""".replace("CHAIN_LOCK_KEY", str(CHAIN_LOCK_KEY))

# The owner keeps its privileges: the trigger refuses it anyway, and the test flush
# truncates as the owner. Every other role (the application's, in a deployment that
# separates them) loses them, and chains entries through procurement_audit_chain() if it
# may write them.
PRIVILEGES_SQL = """
DO $$
DECLARE
    grant_row record;
BEGIN
    REVOKE UPDATE, DELETE, TRUNCATE ON procurement_auditentry FROM PUBLIC;
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON procurement_auditchainhead FROM PUBLIC;
    FOR grant_row IN
        SELECT DISTINCT acl.grantee::regrole::text AS role_name, c.relname, acl.privilege_type
        FROM pg_class AS c, aclexplode(c.relacl) AS acl
        WHERE c.oid IN ('procurement_auditentry'::regclass, 'procurement_auditchainhead'::regclass)
          AND acl.grantee <> 0
          AND acl.grantee <> c.relowner
    LOOP
        IF grant_row.relname = 'procurement_auditentry'
           AND grant_row.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE') THEN
            EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON procurement_auditentry FROM %s',
                           grant_row.role_name);
        ELSIF grant_row.relname = 'procurement_auditchainhead'
           AND grant_row.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE') THEN
            EXECUTE format(
                'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON procurement_auditchainhead FROM %s',
                grant_row.role_name);
        ELSIF grant_row.relname = 'procurement_auditentry' AND grant_row.privilege_type = 'INSERT' THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION procurement_audit_chain(boolean) TO %s',
                           grant_row.role_name);
        END IF;
    END LOOP;
END;
$$;
"""

UNGUARD_SQL = """
DROP FUNCTION IF EXISTS procurement_audit_chain(boolean);
DROP TRIGGER IF EXISTS procurement_auditentry_no_truncate ON procurement_auditentry;
CREATE OR REPLACE FUNCTION procurement_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only';
END;
$$ LANGUAGE plpgsql;
"""


def guard_audit(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # params=None: the "%" in this SQL are not placeholders.
        for sql in (TRIGGER_SQL, CHAIN_FUNCTION_SQL, PRIVILEGES_SQL):
            schema_editor.execute(sql, params=None)


def unguard_audit(apps, schema_editor):
    # Privileges revoked are not granted back: grant them yourself if you need them.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNGUARD_SQL, params=None)


def chain_existing_entries(apps, schema_editor):
    """Chain the entries already there in id order, as chaining after a commit would."""
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT procurement_audit_chain(false)")
            # With no entries to chain the function writes nothing; the head starts here.
            cursor.execute(
                "INSERT INTO procurement_auditchainhead (id, hash, length, last_entry_id) "
                "VALUES (1, %s, 0, NULL) ON CONFLICT (id) DO NOTHING",
                [GENESIS_HASH],
            )
        return
    AuditEntry = apps.get_model("procurement", "AuditEntry")
    AuditChainHead = apps.get_model("procurement", "AuditChainHead")
    ContentType = apps.get_model("contenttypes", "ContentType")
    labels = {
        pk: f"{app_label}.{model}"
        for pk, app_label, model in ContentType.objects.values_list("pk", "app_label", "model")
    }
    previous_hash, last_id, length = GENESIS_HASH, None, 0
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=BATCH):
        entry_hash = audit_entry_digest(
            content_type=labels[entry.content_type_id],
            object_id=entry.object_id,
            actor_id=entry.actor_id,
            action=entry.action,
            from_state=entry.from_state,
            to_state=entry.to_state,
            comment=entry.comment,
            created_at=entry.created_at,
            prev_hash=previous_hash,
        )
        length += 1
        AuditEntry.objects.filter(pk=entry.pk).update(
            chain_index=length, prev_hash=previous_hash, hash=entry_hash
        )
        previous_hash, last_id = entry_hash, entry.pk
    AuditChainHead.objects.create(pk=1, hash=previous_hash, last_entry_id=last_id, length=length)


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("procurement", "0004_objectives"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("hash", models.CharField(max_length=64)),
                ("last_entry_id", models.PositiveBigIntegerField(null=True)),
                ("length", models.PositiveBigIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("id", 1)), name="audit_chain_one_head")
                ],
            },
        ),
        migrations.AddField(
            model_name="auditentry",
            name="chain_index",
            field=models.PositiveBigIntegerField(editable=False, null=True, unique=True),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="prev_hash",
            field=models.CharField(editable=False, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="hash",
            field=models.CharField(editable=False, max_length=64, null=True),
        ),
        migrations.RunPython(guard_audit, unguard_audit),
        migrations.RunPython(chain_existing_entries, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="auditentry",
            index=models.Index(
                condition=models.Q(("chain_index__isnull", True)),
                fields=["id"],
                name="audit_entry_unchained",
            ),
        ),
        migrations.AddConstraint(
            model_name="auditentry",
            constraint=models.UniqueConstraint(fields=("prev_hash",), name="audit_entry_one_successor"),
        ),
        migrations.AddConstraint(
            model_name="auditentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("chain_index__isnull", True),
                        ("hash__isnull", True),
                        ("prev_hash__isnull", True),
                    ),
                    models.Q(
                        ("chain_index__isnull", False),
                        ("hash__isnull", False),
                        ("prev_hash__isnull", False),
                    ),
                    _connector="OR",
                ),
                name="audit_entry_chained_whole",
            ),
        ),
    ]
