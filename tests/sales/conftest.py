from decimal import Decimal

import pytest

from fidelis.sales.services import category_save, product_save, store_save
from tests.factories import CustomerFactory


@pytest.fixture
def catalogue(manager):
    """Two stores, a category tree and four products."""
    stores = {code: store_save(actor=manager, data={"code": code, "name": name})
              for code, name in (("1F-01", "悦享咖啡"), ("2F-01", "时尚女装馆"))}
    drinks = category_save(actor=manager, data={"name": "餐饮"})
    coffee = category_save(actor=manager, data={"name": "咖啡", "parent": drinks})
    clothes = category_save(actor=manager, data={"name": "女装"})
    products = {
        sku: product_save(actor=manager, data={"sku": sku, "name": name, "category": category,
                                               "list_price": Decimal(price)})
        for sku, name, category, price in (
            ("CF-001", "美式咖啡", coffee, "28.00"), ("CF-002", "拿铁", coffee, "32.00"),
            ("WF-101", "真丝连衣裙", clothes, "1299.00"), ("WF-102", "羊毛开衫", clothes, "899.00"))}
    return {"stores": stores, "categories": {"餐饮": drinks, "咖啡": coffee, "女装": clothes}, "products": products}


@pytest.fixture
def shopper(db):
    return CustomerFactory(name="王芳", phone="+8613912345678")
