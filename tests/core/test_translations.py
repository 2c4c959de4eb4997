"""The Chinese catalogues are complete and keep every placeholder of their message ids."""

import re
from pathlib import Path

import polib
import pytest

import fidelis

LOCALE = Path(fidelis.__file__).parent / "locale"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")


@pytest.mark.parametrize("language", ["zh_Hans", "zh_Hant"])
def test_catalogue_is_complete(language):
    catalogue = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))
    missing = [e.msgid for e in catalogue if not e.obsolete and (not e.translated() or "fuzzy" in e.flags)]
    assert missing == [], f"{len(missing)} untranslated in {language}, e.g. {missing[:5]}"


@pytest.mark.parametrize("language", ["zh_Hans", "zh_Hant"])
def test_catalogue_keeps_placeholders(language):
    catalogue = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))
    wrong = [e.msgid for e in catalogue.translated_entries() if not e.msgid_plural
             and sorted(PLACEHOLDER.findall(e.msgid)) != sorted(PLACEHOLDER.findall(e.msgstr))]
    assert wrong == []
