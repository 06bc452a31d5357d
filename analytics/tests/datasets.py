"""The real spend files the analytics tests import, and how their columns map.

Public UK government data kept outside the repo (in `shared/datasets/` next to it); the tests
that need them are skipped where they are not.
"""

from pathlib import Path

from django.conf import settings

DATASETS = Path(settings.BASE_DIR).parent / "shared" / "datasets"
CARD_FILE = DATASETS / "home-office-procurement-card" / "2020.csv"
CABINET_DIR = DATASETS / "cabinet-office-spend-over-25k"

# The Home Office's procurement-card file: no reference, category or department columns.
CARD = {"columns": {"date": "Date", "amount": "Amount", "supplier": "Supplier"}, "day_first": True}
CABINET = {
    "columns": {
        "date": "Date",
        "amount": "Amount",
        "supplier": "Supplier",
        "reference": "Transaction number",
        "category": "Expense Type",
        "department": "Expense Area",
    },
    "day_first": True,
}
