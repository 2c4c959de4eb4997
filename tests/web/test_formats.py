"""Numbers as the pages write them: grouped by three with commas in every language, rates as percentages."""

import pytest
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import floatformat
from django.utils import translation

from fidelis.web.templatetags.fidelis_ui import percent


@pytest.mark.parametrize("language", ["zh-hans", "zh-hant", "en"])
def test_amounts_are_grouped_by_three_with_commas(language):
    with translation.override(language):
        assert intcomma(10298499) == "10,298,499"
        assert floatformat("6243401.100000000000", "2g") == "6,243,401.10"


@pytest.mark.parametrize(("value", "shown"), [(0.815, "81.5 %"), (0.0071, "0.7 %"), (1, "100.0 %"), (None, "")])
def test_a_share_is_shown_as_a_percentage(value, shown):
    with translation.override("zh-hans"):
        assert percent(value) == shown
