"""Display filters: phones as people write them, masked contact data."""

from fidelis.web.templatetags.fidelis_ui import audit_change, mask_email, mask_phone, phone


def test_phone_formats_chinese_mobiles_and_landlines_nationally():
    assert phone("+8613912345678") == "139 1234 5678"
    assert phone("+862164881234") == "021 6488 1234"
    assert phone("+14155552671") == "+1 415-555-2671"
    assert phone("") == ""


def test_mask_phone_hides_the_middle_digits():
    assert mask_phone("+8613912345678") == "139 **** 5678"
    assert mask_phone("") == ""


def test_mask_email_keeps_the_first_letter_and_the_domain():
    assert mask_email("zhangsan@example.cn") == "z***@example.cn"
    assert mask_email("") == ""


def test_audit_change_shows_old_and_new_values():
    assert audit_change(["readonly", "sales"]) == "readonly → sales"
    assert audit_change([None, "张三"]) == "张三"
    assert audit_change({"a": 1}) == "{'a': 1}"
