"""Refresh the catalogues: extract message ids, then fill Traditional Chinese from Simplified where it lags."""

import os
from pathlib import Path

import polib
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

# Words OpenCC (s2twp) renders wrongly for this product, corrected after conversion.
HANT_FIXES = {"微訊號": "微信號", "許可權": "權限", "型別": "類型", "稽核": "審核", "營銷": "行銷", "退出登入": "登出",
              "計劃": "計畫", "模板": "範本", "實時": "即時", "響應": "回應", "復購": "回購", "二維碼": "QR Code"}


def _fix_hant(text: str) -> str:
    for wrong, right in HANT_FIXES.items():
        text = text.replace(wrong, right)
    return text


class Command(BaseCommand):
    help = "Run makemessages for zh_Hans and zh_Hant and derive missing zh_Hant entries from zh_Hans (OpenCC)."

    def handle(self, *args, **options):
        import opencc  # a development dependency: pip install -e '.[test]'

        package_dir = Path(settings.LOCALE_PATHS[0]).parent
        os.chdir(package_dir)  # makemessages writes into ./locale of the working directory
        call_command("makemessages", locale=["zh_Hans", "zh_Hant", "en"], no_obsolete=True, no_location=False,
                     add_location="file", ignore_patterns=["tests/*"], verbosity=0, **{"domain": "django"})
        locale_dir = package_dir / "locale"
        hans = polib.pofile(str(locale_dir / "zh_Hans/LC_MESSAGES/django.po"))
        hant_path = locale_dir / "zh_Hant/LC_MESSAGES/django.po"
        hant = polib.pofile(str(hant_path))
        opencc_convert = opencc.OpenCC("s2twp").convert

        def convert(text: str) -> str:
            return _fix_hant(opencc_convert(text))

        by_id = {(e.msgctxt, e.msgid): e for e in hans}
        filled = 0
        for entry in hant:
            source = by_id.get((entry.msgctxt, entry.msgid))
            if source is None or not source.translated():
                continue
            derived = convert(source.msgstr) if not source.msgid_plural else None
            if derived is not None and (not entry.msgstr or "fuzzy" in entry.flags or entry.comment == "derived"):
                entry.msgstr, entry.comment = derived, "derived"
                if "fuzzy" in entry.flags:
                    entry.flags.remove("fuzzy")
                filled += 1
            elif source.msgid_plural:
                entry.msgstr_plural = {k: convert(v) for k, v in source.msgstr_plural.items()}
                if "fuzzy" in entry.flags:
                    entry.flags.remove("fuzzy")
                filled += 1
        hant.save(str(hant_path))
        untranslated = len(hans.untranslated_entries()) + len(hans.fuzzy_entries())
        self.stdout.write(f"zh_Hant: {filled} entries derived from zh_Hans; zh_Hans untranslated: {untranslated}")
