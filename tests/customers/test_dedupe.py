import pytest

from fidelis.accounts.models import AuditEntry, Role
from fidelis.core.errors import DomainError, PermissionDenied
from fidelis.customers.dedupe import duplicate_dismiss, duplicates_scan
from fidelis.customers.models import DuplicateCandidate, DuplicateStatus
from tests.factories import CustomerFactory


def _stored(data):
    """Return a stored customer with normalised keys, as an older record or an import leaves it (the create service
    refuses a second customer with the same phone or e-mail unless told otherwise)."""
    return CustomerFactory(**{"phone": "", **data})


def _pairs():
    return {(c.customer_id, c.other_id): c.reason for c in DuplicateCandidate.objects.all()}


@pytest.mark.django_db
def test_duplicates_scan_finds_same_phone_email_and_similar_name_at_same_company(manager):
    # given
    a = _stored({"name": "张三", "phone": "138 0013 8000"})
    b = _stored({"name": "张小三", "phone": "+86 13800138000"})
    c = _stored({"name": "Li Si", "email": "LiSi@Example.cn"})
    d = _stored({"name": "李四", "email": "lisi@example.cn "})
    e = _stored({"name": "王小明", "company_name": "北京星辰科技有限公司"})
    f = _stored({"name": "王晓明", "company_name": "北京星辰科技"})
    _stored({"name": "王大明", "company_name": "上海星辰科技"})
    _stored({"name": "赵六", "phone": "13900139000"})
    # when
    created = duplicates_scan(actor=manager)
    # then
    assert _pairs() == {(a.pk, b.pk): "phone", (c.pk, d.pk): "email", (e.pk, f.pk): "name_company"}
    assert created == 3
    assert AuditEntry.objects.filter(action="customer.duplicates_scan", actor=manager).exists()


@pytest.mark.django_db
def test_duplicates_scan_matches_other_phone_and_skips_merged_and_erased(manager):
    a = _stored({"name": "张三", "phone": "13800138000"})
    b = _stored({"name": "张山", "phone": "13700137000", "phone_alt": "13800138000"})
    merged = CustomerFactory(phone="+8613700137000", merged_into=a)
    erased = CustomerFactory(phone="+8613700137000")
    erased.erased_at = erased.created_at
    erased.save()
    duplicates_scan()
    assert _pairs() == {(a.pk, b.pk): "phone"}
    assert merged.pk not in {pk for pair in _pairs() for pk in pair}


@pytest.mark.django_db
def test_duplicates_scan_twice_keeps_dismissed_pairs_dismissed(manager):
    _stored({"name": "张三", "phone": "13800138000"})
    _stored({"name": "李四", "phone": "13800138000"})
    duplicates_scan(actor=manager)
    candidate = DuplicateCandidate.objects.get()
    duplicate_dismiss(actor=manager, candidate=candidate)
    # when
    created = duplicates_scan(actor=manager)
    # then
    assert created == 0
    candidate.refresh_from_db()
    assert candidate.status == DuplicateStatus.DISMISSED and candidate.resolved_by == manager
    assert AuditEntry.objects.filter(action="customer.duplicate_dismiss").count() == 1


@pytest.mark.django_db
def test_duplicates_scan_of_given_customers_compares_them_with_stored_ones(manager):
    old = _stored({"name": "张三", "email": "zs@example.cn"})
    _stored({"name": "李四", "phone": "13900139000"})
    _stored({"name": "李四四", "phone": "13900139000"})
    new = _stored({"name": "张三", "email": "ZS@example.cn"})
    duplicates_scan(customers=[new])
    assert _pairs() == {(old.pk, new.pk): "email"}


@pytest.mark.django_db
def test_duplicates_scan_large_group_makes_a_star_not_all_pairs(manager):
    people = [CustomerFactory(phone="+8613800138000") for _ in range(30)]
    duplicates_scan()
    anchor = min(p.pk for p in people)
    assert DuplicateCandidate.objects.count() == 29
    assert set(DuplicateCandidate.objects.values_list("customer_id", flat=True)) == {anchor}


@pytest.mark.django_db
def test_duplicate_dismiss_by_sales_rep_is_refused(users, manager):
    _stored({"name": "张三", "phone": "13800138000"})
    _stored({"name": "李四", "phone": "13800138000"})
    duplicates_scan()
    candidate = DuplicateCandidate.objects.get()
    with pytest.raises(PermissionDenied):
        duplicate_dismiss(actor=users[Role.SALES], candidate=candidate)
    with pytest.raises(PermissionDenied):
        duplicates_scan(actor=users[Role.SALES])
    candidate.refresh_from_db()
    assert candidate.status == DuplicateStatus.OPEN


@pytest.mark.django_db
def test_duplicate_dismiss_twice_is_refused(manager):
    _stored({"name": "张三", "phone": "13800138000"})
    _stored({"name": "李四", "phone": "13800138000"})
    duplicates_scan()
    candidate = DuplicateCandidate.objects.get()
    duplicate_dismiss(actor=manager, candidate=candidate)
    with pytest.raises(DomainError):
        duplicate_dismiss(actor=manager, candidate=candidate)


@pytest.mark.django_db
def test_duplicates_scan_compares_each_name_with_its_neighbours_at_the_company(manager):
    # given: at one company, names in pinyin order, each close only to the ones next to it
    company = {"company_name": "星辰科技"}
    names = ["Wang Xiaoming", "Wang Xiaomingg", "Wang Xiaominggg", "Zhou Yu", "Zhou Yuu"]
    made = [_stored({"name": name, **company}) for name in names]
    # when
    duplicates_scan(actor=manager)
    # then: the close neighbours, whichever of the two comes first, and no pair across the gap
    a, b, c, d, e = (m.pk for m in made)
    assert _pairs() == {(a, b): "name_company", (a, c): "name_company", (b, c): "name_company",
                        (d, e): "name_company"}
