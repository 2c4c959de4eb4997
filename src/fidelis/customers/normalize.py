"""Normalisation of what people type: phones, e-mail, names (pinyin), company names."""

import re
import unicodedata
from functools import lru_cache

import phonenumbers
from django.conf import settings
from pypinyin import Style, lazy_pinyin

_NON_DIGIT = re.compile(r"[^0-9]")
_HAN = re.compile(r"[\u3400-\u9fff]")
_COMPANY_NOISE = re.compile(r"(有限责任公司|股份有限公司|有限公司|集团|公司|co\.?,?\s*ltd\.?|inc\.?|llc|ltd\.?)", re.I)
_SPACES = re.compile(r"[\s\u3000·・.,，。()（）\-_/]+")


class InvalidPhone(ValueError):
    pass


def normalize_phone(raw: str, region: str | None = None) -> str:
    """Return the phone in E.164 (+8613800138000); raise InvalidPhone when it is not a valid number."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text:
        return ""
    region = region or settings.FIDELIS_DEFAULT_REGION
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(str(exc)) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(text)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(value: str, region: str | None = None) -> str:
    """Return a stored phone (E.164, or the digits of a home-region number) as people write it: nationally for the
    home region (139 1234 5678, 021 6488 1234), with the country code for others (+1 415-555-2671); what does not
    parse, as it is."""
    if not value:
        return ""
    region = region or settings.FIDELIS_DEFAULT_REGION
    try:
        number = phonenumbers.parse(value, None if value.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return value
    home = phonenumbers.country_code_for_region(region)
    style = (phonenumbers.PhoneNumberFormat.NATIONAL if number.country_code == home
             else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(number, style)


def nfkc(text: str) -> str:
    """Return the text in Unicode's compatibility form: full-width digits, letters and signs as ASCII ones
    (138００１３８０２４ → 13800138024, ｚｓ＠ｅｘａｍｐｌｅ．ｃｏｍ → zs@example.com)."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def phone_search_digits(e164: str) -> str:
    """Return the digits a user types for a stored phone: the national number for China, all digits otherwise."""
    digits = _NON_DIGIT.sub("", nfkc(e164 or ""))
    return digits[2:] if digits.startswith("86") else digits


def query_digits(text: str) -> str:
    """Return the digits of a phone-like search, dropping a +86 / 0086 country prefix."""
    text = nfkc(text)
    digits = _NON_DIGIT.sub("", text)
    if text.strip().startswith("+86") or digits.startswith("0086"):
        digits = digits[2:] if text.strip().startswith("+86") else digits[4:]
    return digits


def looks_like_phone(text: str) -> bool:
    """Return whether a search string is made of digits and phone punctuation only."""
    t = unicodedata.normalize("NFKC", text).strip()
    return bool(t) and re.fullmatch(r"[+\d\s\-()]+", t) is not None and sum(c.isdigit() for c in t) >= 3


def normalize_email(raw: str) -> str:
    """Return the e-mail address as stored and compared: compatibility form, trimmed, lower case."""
    return nfkc(raw or "").strip().lower()


@lru_cache(maxsize=65536)
def name_pinyin(name: str) -> tuple[str, str]:
    """Return the full pinyin ("zhangsan") and the initials ("zs") of a name; latin parts pass through."""
    text = unicodedata.normalize("NFKC", name or "").strip().lower()
    if not text:
        return "", ""
    syllables = [s for s in lazy_pinyin(text, style=Style.NORMAL, errors=lambda chars: list(chars)) if s.strip()]
    full = "".join(re.sub(r"[^a-z0-9]", "", s) for s in syllables)
    initials = "".join(s[0] for s in syllables if s and s[0].isalnum())
    if not _HAN.search(text):
        # For a latin name, initials are taken per word ("Jenny Wang" → "jw").
        words = re.findall(r"[a-z0-9]+", text)
        initials = "".join(w[0] for w in words)
    return full[:300], initials[:100]


def company_key(name: str) -> str:
    """Return a company name reduced for comparison (no legal suffix, no spaces, lower case)."""
    text = unicodedata.normalize("NFKC", name or "").strip().lower()
    text = _COMPANY_NOISE.sub("", text)
    return _SPACES.sub("", text)[:120]


def name_key(name: str) -> str:
    """Return a person's name reduced for comparison."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", name or "").strip().lower())


def prefix_range(prefix: str) -> tuple[str, str]:
    """Return the [low, high) range of strings starting with prefix, usable by any B-tree index."""
    return prefix, prefix + "\U0010ffff"


def is_han(text: str) -> bool:
    return bool(_HAN.search(text))
