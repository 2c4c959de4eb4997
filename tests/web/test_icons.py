"""The icon sprite holds every icon a template or the navigation names."""

import re
from pathlib import Path

from django.template import engines

import fidelis
from fidelis.web.context_processors import NAV

SRC = Path(fidelis.__file__).parent
SPRITE = SRC / "web" / "static" / "web" / "icons.svg"


def _symbols() -> set[str]:
    return set(re.findall(r'<symbol id="([\w-]+)"', SPRITE.read_text(encoding="utf-8")))


def test_every_icon_named_in_a_template_or_the_navigation_is_in_the_sprite():
    # given the icon names the templates write literally and those of the navigation entries
    named = {m for path in SRC.rglob("*.html") for m in re.findall(r'{% icon "([\w-]+)" %}', path.read_text("utf-8"))}
    named |= {entry[3] for entry in NAV}
    # then the sprite has a symbol for each
    assert named and not named - _symbols()


def test_an_icon_is_a_use_of_its_symbol():
    # when a template shows the icon "home"
    markup = engines["django"].from_string('{% load fidelis_ui %}{% icon "home" %}').render({})
    # then it is an svg using the sprite's symbol, with no path of its own
    assert re.search(r'<use href="/static/web/icons(\.[0-9a-f]+)?\.svg#home"/>', markup)
    assert "<path" not in markup and "home" in _symbols()
