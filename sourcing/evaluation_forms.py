"""Page forms of the evaluation part: they parse the browser's POST into the services'
inputs. The rules (ranges, states, who may act) live in scoring.py, negotiation.py and
awards.py, whose errors the views put back on these fields."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from sourcing.scoring import Evaluation

DATETIME_WIDGET = {"type": "datetime-local"}


class CriterionScoreForm(forms.Form):
    criterion = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    invitation = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    score = forms.DecimalField(
        min_value=Decimal(0),
        max_value=Decimal(100),
        max_digits=5,
        decimal_places=2,
    )
    note = forms.CharField(required=False, max_length=2000)


class CounterOfferForm(forms.Form):
    proposed_tco = forms.DecimalField(
        label="Proposed TCO",
        max_digits=16,
        decimal_places=2,
        help_text="The total over the term you ask for, in the RFQ's currency.",
    )
    message = forms.CharField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Sent to the vendor with its quote link.",
    )
    respond_by = forms.DateTimeField(
        label="Reply by",
        widget=forms.DateTimeInput(attrs=DATETIME_WIDGET, format="%Y-%m-%dT%H:%M"),
    )


class AwardForm(forms.Form):
    quote = forms.TypedChoiceField(
        label="Winning quote", coerce=int, widget=forms.RadioSelect, choices=[]
    )
    justification = forms.CharField(
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Required when the quote is not ranked first, is above the walk-away price, "
        "or fewer quotes came in than the policy requires.",
    )

    def __init__(self, *args: Any, evaluation: Evaluation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        currency = evaluation.rfq.currency
        field = self.fields["quote"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [
            (
                column.quote.pk,
                f"{column.invitation.vendor} — rank {column.rank}, {column.total_score} points, "
                f"TCO {column.tco:,} {currency}",
            )
            for column in evaluation.columns
        ]
        if evaluation.top is not None and not self.is_bound:
            field.initial = evaluation.top.quote.pk


class DecisionForm(forms.Form):
    comment = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required to refuse; kept in the history.",
    )
