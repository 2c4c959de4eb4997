"""Every icon a page names has its shape (web/icons/NAME.svg) and its CSS class."""

import re
from pathlib import Path

import fidelis
from fidelis.web.context_processors import NAV

SRC = Path(fidelis.__file__).parent
STATIC = SRC / "web" / "static" / "web"


def test_every_icon_named_in_a_template_or_the_navigation_has_its_shape_and_class():
    # given the icons the templates name literally and those of the navigation entries
    named = {m for path in SRC.rglob("*.html")
             for m in re.findall(r'class="icon icon-([\w-]+)"', path.read_text("utf-8"))}
    named |= {entry[3] for entry in NAV}
    css = (STATIC / "fidelis.css").read_text("utf-8")
    # then each has an SVG file and a class that masks an element with it
    assert named
    for name in named:
        assert (STATIC / "icons" / f"{name}.svg").exists(), name
        assert f".icon-{name} {{ -webkit-mask-image: url(icons/{name}.svg); mask-image: url(icons/{name}.svg); }}" \
            in css, name


def test_no_template_uses_an_icon_tag_or_inline_icon_svg():
    for path in SRC.rglob("*.html"):
        text = path.read_text("utf-8")
        assert "{% icon" not in text and '<svg class="icon"' not in text, path
