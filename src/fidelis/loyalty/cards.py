"""The member card: the member's one canonical code, the card code, as a QR code and a Code 128 barcode (SVG).

The card code (`Member.card_code`, unique across programs, what a till looks a member up by) is the code both
symbols carry; the member number is printed beside them for people. The symbols are drawn by `segno` (QR, error
correction M, with the four-module quiet zone a scanner needs) and `python-barcode` (Code 128, with its quiet zone),
black on white so that a till's scanner reads them from a phone screen.
"""

import io

import segno
from barcode import Code128
from barcode.writer import SVGWriter

KINDS = ("qr", "code128")


def card_svg(code: str, kind: str) -> bytes:
    """Return the SVG of `code` as a QR code (`kind` "qr") or a Code 128 barcode ("code128")."""
    out = io.BytesIO()
    if kind == "qr":
        # No width or height: the page sizes it; the view box keeps it square.
        segno.make(code, error="m", micro=False).save(out, kind="svg", border=4, xmldecl=False, omitsize=True,
                                                      dark="#000", light="#fff")
    elif kind == "code128":
        Code128(code, writer=SVGWriter()).write(out, options={"write_text": False, "module_height": 12.0,
                                                              "quiet_zone": 6.5, "background": "white",
                                                              "foreground": "black"})
    else:
        raise ValueError(f"no card symbol {kind!r}")
    return out.getvalue()
