"""What a customer merge does to the pipeline: the absorbed record's opportunities and contracts follow the kept one."""

from fidelis.customers.dedupe import on_merge
from fidelis.pipeline.models import Contract, Opportunity


@on_merge
def move_pipeline(*, actor, keep, absorb) -> dict:
    """Move the absorbed record's opportunities and contracts to the kept record; return the contract numbers."""
    numbers = list(Contract.objects.filter(customer=absorb).values_list("number", flat=True))
    opportunities = Opportunity.objects.filter(customer=absorb).update(customer=keep)
    Contract.objects.filter(customer=absorb).update(customer=keep)
    return {"contracts": numbers, "opportunities": opportunities}
