"""The contract prices page: what a contract's vendor agreed to charge, kept by procurement for
the benchmarks beside quotes. Linked from the contract's page."""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from procurement.errors import ApplicationError, NotFound
from procurement.models import Category, User
from sourcing.access import may_source
from sourcing.contract_prices import contract_price_add, contract_price_remove, contract_prices_get


class ContractPriceForm(forms.Form):
    description = forms.CharField(label="What the price is for", max_length=300)
    category = forms.ModelChoiceField(
        label="Category", queryset=Category.objects.filter(is_active=True)
    )
    unit = forms.CharField(label="Unit", max_length=20, initial="each")
    unit_price = forms.DecimalField(
        label="Unit price", min_value=0.01, max_digits=14, decimal_places=2
    )


def _user(request: HttpRequest) -> User:
    return cast("User", request.user)


@login_required
@require_http_methods(["GET", "POST"])
def contract_prices_page(request: HttpRequest, contract_id: int) -> HttpResponse:
    user = _user(request)
    try:
        contract, prices = contract_prices_get(by=user, contract_id=contract_id)
    except NotFound:
        raise Http404("No such contract.") from None
    form = ContractPriceForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                contract_price_add(
                    contract_id=contract.pk,
                    by=user,
                    description=form.cleaned_data["description"],
                    category_id=form.cleaned_data["category"].pk,
                    unit=form.cleaned_data["unit"],
                    unit_price=form.cleaned_data["unit_price"],
                )
            except ApplicationError as error:
                for field, errors in error.fields.items():
                    form.add_error(field if field in form.fields else None, errors)
                if not error.fields:
                    form.add_error(None, error.message)
            else:
                messages.success(request, "Price added.")
                return redirect("rfqs:contract-prices", contract_id=contract.pk)
        status = 400
    return render(
        request,
        "sourcing/contract_prices.html",
        {"contract": contract, "prices": prices, "form": form, "can_edit": may_source(user)},
        status=status,
    )


@login_required
@require_POST
def contract_price_remove_view(
    request: HttpRequest, contract_id: int, price_id: int
) -> HttpResponse:
    try:
        contract_price_remove(contract_id=contract_id, price_id=price_id, by=_user(request))
    except NotFound:
        raise Http404("No such price.") from None
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Price removed.")
    return redirect("rfqs:contract-prices", contract_id=contract_id)
