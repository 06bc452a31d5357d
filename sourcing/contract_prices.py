"""Prices agreed in a contract, kept by procurement: the "contract price" the comparison page
shows beside each quote (sourcing.benchmarks)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction

from procurement.errors import InvalidInput, NotAllowed, NotFound
from procurement.models import Category, User
from procurement.services import audit_record
from sourcing.access import may_see_sourcing, may_source
from sourcing.models import ContractPrice
from vendors.models import Contract

# The column: 14 digits, 2 after the point.
UNIT_PRICE_LIMIT = Decimal("1e12")


def contract_prices_get(*, by: User, contract_id: int) -> tuple[Contract, list[ContractPrice]]:
    """The contract and its agreed prices, for those who see sourcing (404 for the others)."""
    contract = Contract.objects.select_related("vendor").filter(pk=contract_id).first()
    if contract is None or not may_see_sourcing(by):
        raise NotFound("No such contract.")
    prices = list(
        ContractPrice.objects.filter(contract=contract)
        .select_related("category")
        .order_by("category__name", "description", "id")
    )
    return contract, prices


def contract_price_add(
    *,
    contract_id: int,
    by: User,
    description: str,
    category_id: int,
    unit: str,
    unit_price: Decimal | str,
) -> ContractPrice:
    """Record a price agreed in the contract. Procurement only; a clear 400 per field."""
    if not may_source(by):
        raise NotAllowed("Only procurement keeps contract prices.")
    errors: dict[str, list[str]] = {}
    description = " ".join(str(description).split())
    if not description:
        errors["description"] = ["Describe what the price is for."]
    elif len(description) > 300:
        errors["description"] = ["At most 300 characters."]
    unit = " ".join(str(unit).split()) or "each"
    if len(unit) > 20:
        errors["unit"] = ["At most 20 characters."]
    category = Category.objects.filter(pk=category_id, is_active=True).first()
    if category is None:
        errors["category"] = ["Choose a category."]
    try:
        price = Decimal(str(unit_price))
    except InvalidOperation:
        price = None
    if price is None or not price.is_finite() or price <= 0:
        errors["unit_price"] = ["Enter a price greater than zero."]
    elif price >= UNIT_PRICE_LIMIT or price != price.quantize(Decimal("0.01")):
        errors["unit_price"] = ["Enter a price below 1,000,000,000,000 with at most 2 decimals."]
    if errors:
        first = next(iter(errors.values()))[0]
        raise InvalidInput(f"The price was not added: {first}", fields=errors)
    assert category is not None
    assert price is not None
    with transaction.atomic():
        contract = Contract.objects.select_for_update().filter(pk=contract_id).first()
        if contract is None:
            raise NotFound("No such contract.")
        agreed = ContractPrice.objects.create(
            contract=contract,
            description=description,
            category=category,
            unit=unit,
            unit_price=price,
        )
        audit_record(
            target=contract,
            actor=by,
            action="price_added",
            comment=f"{description}: {price} {contract.currency} per {unit}.",
        )
    return agreed


def contract_price_remove(*, contract_id: int, price_id: int, by: User) -> None:
    """Remove one of the contract's prices. Procurement only; 404 for a price of another
    contract, and for anyone who does not see sourcing."""
    if not may_see_sourcing(by):
        raise NotFound("No such price.")
    if not may_source(by):
        raise NotAllowed("Only procurement keeps contract prices.")
    with transaction.atomic():
        agreed = (
            ContractPrice.objects.select_for_update()
            .select_related("contract")
            .filter(pk=price_id, contract_id=contract_id)
        ).first()
        if agreed is None:
            raise NotFound("No such price.")
        audit_record(
            target=agreed.contract,
            actor=by,
            action="price_removed",
            comment=f"{agreed.description}: {agreed.unit_price} {agreed.contract.currency} per "
            f"{agreed.unit}.",
        )
        agreed.delete()
