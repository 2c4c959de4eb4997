import factory

from fidelis.accounts.models import Role, User
from fidelis.customers.models import Customer, CustomerKind
from fidelis.customers.services import customer_prepare

PASSWORD = "fidelis-test-pw"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    role = Role.READONLY
    password = factory.django.Password(PASSWORD)


class CustomerFactory(factory.django.DjangoModelFactory):
    """A customer with normalised search keys, written directly (no audit, no event)."""

    class Meta:
        model = Customer

    number = factory.Sequence(lambda n: f"T{n:08d}")
    kind = CustomerKind.INDIVIDUAL
    name = factory.Iterator(["张三", "李四", "王小明", "赵丽颖", "陈静"])
    phone = factory.Sequence(lambda n: f"+86139{n:08d}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        customer = model_class(*args, **kwargs)
        customer_prepare(customer)
        customer.save()
        return customer
