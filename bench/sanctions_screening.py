"""How long importing a sanctions list and screening vendors against it take.

    .venv/bin/python bench/sanctions_screening.py [--entries 12000] [--vendors 200]

Builds a synthetic list in the UK (OFSI ConList.csv) format, about the size of the real UK
list (12,000 entries with 1.5 aliases each), in a throwaway SQLite database under a
temporary VAR_DIR (or the database DATABASE_URL names, which it then writes to: use a
scratch one). Prints wall-clock seconds and peak memory for: the import, screening one
vendor (what starting a review costs), and rescreening every vendor (what runs after each
import). Numbers go into docs/benchmarks.md by hand, with the machine they came from.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYLLABLES = [
    "ka",
    "ro",
    "mi",
    "ten",
    "sa",
    "vol",
    "dur",
    "ix",
    "an",
    "bel",
    "cor",
    "fin",
    "gar",
    "hol",
    "jun",
    "lem",
    "nor",
    "pax",
    "qui",
    "ras",
    "tor",
    "ul",
    "ven",
    "wex",
    "yar",
    "zel",
]
# A few real-looking words, so names share words as real ones do ("Trading", "Holdings").
COMMON = [
    "trading",
    "holdings",
    "energy",
    "marine",
    "logistics",
    "capital",
    "industrial",
    "systems",
    "group",
]
PLANTED = 5  # vendors named after a listed party: the matches screening must find


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))


def company(rng: random.Random) -> str:
    return f"{word(rng)} {word(rng)} {rng.choice(COMMON)}"


def synthetic_list(path: Path, entries: int, rng: random.Random) -> list[str]:
    """Write the list; return the primary names, some of which vendors will share."""
    primaries: list[str] = []
    header = ["Name 6", "Name 1", "Name 2", "Name 3", "Name 4", "Name 5", "Title"]
    header += ["Country", "Group Type", "Alias Type", "Regime", "Listed On", "Group ID"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write("Last Updated,20/11/2026\n")
        writer = csv.writer(handle)
        writer.writerow(header)
        for group in range(1, entries + 1):
            individual = group % 3 == 0
            names = [company(rng).upper() for _ in range(1 + rng.randint(0, 2))]
            primaries.append(names[0])
            for position, name in enumerate(names):
                first, _, last = name.rpartition(" ")
                row = [last if individual else name, first if individual else ""]
                row += ["", "", "", "", ""]
                row += ["Country", "Individual" if individual else "Entity"]
                row += ["Primary name" if position == 0 else "AKA", "Russia", "01/01/2023"]
                row += [str(group)]
                writer.writerow(row)
    return primaries


def measure(label: str, work: object) -> object:
    tracemalloc.start()
    started = time.perf_counter()
    result = work()  # type: ignore[operator]
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{label:<44} {seconds:8.2f} s   peak {peak / 1024 / 1024:7.1f} MB")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=12_000)
    parser.add_argument("--vendors", type=int, default=200)
    options = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-sanctions-"))
    os.environ.setdefault("VAR_DIR", str(scratch))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "procurement.settings")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"  # the rescreen task is timed on its own
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from procurement.models import Role, User, UserRole
    from vendors.matching import name_key
    from vendors.models import SanctionsName, Vendor, VendorType
    from vendors.sanctions import (
        sanctions_list_import,
        vendor_sanctions_screen,
        vendors_rescreen_all,
    )

    call_command("migrate", verbosity=0)
    rng = random.Random(42)
    path = scratch / "ConList.csv"
    primaries = synthetic_list(path, options.entries, rng)
    buyer, _ = User.objects.get_or_create(username="bench-buyer")
    UserRole.objects.get_or_create(user=buyer, role=Role.PROCUREMENT)
    vendor_type = VendorType.objects.get(code="other")
    with transaction.atomic():
        Vendor.objects.all().delete()
        for number in range(options.vendors):
            if number < PLANTED:
                legal_name = f"{rng.choice(primaries).title()} Ltd"
            else:
                legal_name = f"{company(rng).title()} Ltd"
            Vendor.objects.create(
                legal_name=legal_name,
                name_key=name_key(legal_name),
                country="GB",
                vendor_type=vendor_type,
                owner=buyer,
                created_by=buyer,
            )

    print(f"{options.entries:,} listed entries, {options.vendors:,} vendors ({sys.platform})")
    # Queued rescreens are not run here (no worker): each step below is timed on its own.
    measure(
        "import the list (parse + replace)", lambda: sanctions_list_import(source="uk", path=path)
    )
    print(f"{'':<44} {SanctionsName.objects.count():,} names stored")
    first = Vendor.objects.order_by("pk").first()
    assert first is not None
    measure("screen one vendor", lambda: vendor_sanctions_screen(vendor_id=first.pk))
    matches = measure(f"rescreen all {options.vendors} vendors", vendors_rescreen_all)
    print(f"{'':<44} {matches} new possible matches ({PLANTED} vendors planted)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
