"""The cards other apps add to the customer 360° page, fetched together in one request after the page itself.

An app declares its card in `<app>/panels.py` (imported at start-up, as the admin imports `admin.py`) with
`@customer_panel`; the page's `customer_panels` view renders the cards the user may see in their order.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fidelis.accounts.permissions import has_capability

PanelContext = Callable[..., dict[str, Any] | None]


@dataclass(frozen=True)
class CustomerPanel:
    template: str
    capability: str
    order: int
    context: PanelContext


_panels: list[CustomerPanel] = []


def customer_panel(*, template: str, capability: str, order: int) -> Callable[[PanelContext], PanelContext]:
    """Register a card of the 360° page: `context(request, customer)` returns the context of `template`, or None
    to leave the card out; users without `capability` do not get it; cards show by `order`."""
    def register(context: PanelContext) -> PanelContext:
        if all(panel.context is not context for panel in _panels):
            _panels.append(CustomerPanel(template, capability, order, context))
            _panels.sort(key=lambda panel: panel.order)
        return context
    return register


def customer_panels(request, customer) -> list[tuple[str, dict[str, Any]]]:
    """Return the template and context of each registered card the user may see, in page order."""
    cards = []
    for panel in _panels:
        if has_capability(request.user, panel.capability):
            context = panel.context(request, customer)
            if context is not None:
                cards.append((panel.template, context))
    return cards
