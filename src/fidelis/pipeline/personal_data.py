"""The pipeline's part of a person's data export (`fidelis.customers.privacy`): the opportunities and contracts
with them."""

from typing import Any

from django.db.models import Prefetch

from fidelis.customers.privacy import personal_data_section, plain
from fidelis.pipeline.models import Contract, Opportunity, OpportunityStageChange
from fidelis.sales.models import Product


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


def _opportunity(opportunity: Opportunity) -> dict[str, Any]:
    return {
        "title": opportunity.title, "source": opportunity.source, "stage": opportunity.stage.name,
        "status": opportunity.status, "probability": opportunity.probability,
        "expected_amount": plain(opportunity.expected_amount),
        "expected_close_date": plain(opportunity.expected_close_date),
        "products": [product.sku for product in opportunity.products.all()],
        "owner": _username(opportunity.owner), "created_at": plain(opportunity.created_at),
        "won_at": plain(opportunity.won_at), "lost_at": plain(opportunity.lost_at),
        "lost_reason": opportunity.lost_reason, "lost_note": opportunity.lost_note,
        "order_no": opportunity.order.order_no if opportunity.order_id else None, "notes": opportunity.notes,
        "stage_changes": [
            {"from": change.from_stage.name if change.from_stage_id else None, "to": change.to_stage.name,
             "changed_at": plain(change.changed_at)}
            for change in opportunity.stage_changes.all()],
    }


def _contract(contract: Contract) -> dict[str, Any]:
    return {
        "number": contract.number, "title": contract.title, "amount": plain(contract.amount),
        "payment_method": contract.payment_method, "start_date": plain(contract.start_date),
        "end_date": plain(contract.end_date), "status": contract.status, "signed_at": plain(contract.signed_at),
        "terminated_at": plain(contract.terminated_at), "owner": _username(contract.owner),
        "renewal_of": contract.renewal_of.number if contract.renewal_of_id else None, "notes": contract.notes,
    }


@personal_data_section("pipeline", models=[Opportunity, OpportunityStageChange, Contract])
def pipeline_personal_data(customer) -> dict[str, Any]:
    """Return the opportunities (with their products and stage history) and the contracts of the person."""
    changes = OpportunityStageChange.objects.select_related("from_stage", "to_stage").order_by("changed_at", "id")
    opportunities = (Opportunity.objects.filter(customer=customer).select_related("stage", "owner", "order")
                     .prefetch_related(Prefetch("products", queryset=Product.objects.order_by("sku")),
                                       Prefetch("stage_changes", queryset=changes))
                     .order_by("created_at", "id"))
    contracts = (Contract.objects.filter(customer=customer).select_related("owner", "renewal_of")
                 .order_by("start_date", "id"))
    return {"opportunities": [_opportunity(o) for o in opportunities],
            "contracts": [_contract(c) for c in contracts]}
