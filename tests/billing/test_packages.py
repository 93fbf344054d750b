"""The one lookup of a package on sale, for the /buy buttons and the invoice payloads alike."""

from decimal import Decimal

import pytest

from apps.billing.models import CreditPackage
from apps.billing.selectors import package_for_sale

pytestmark = pytest.mark.django_db


def test_a_package_is_for_sale_by_the_text_of_its_id_while_active():
    package = CreditPackage.objects.create(title="On sale", credits=Decimal("10"), stars=5)
    withdrawn = CreditPackage.objects.create(title="Withdrawn", credits=Decimal("10"), stars=5, is_active=False)

    assert package_for_sale(str(package.pk)) == package
    assert package_for_sale(str(withdrawn.pk)) is None
    assert package_for_sale(str(withdrawn.pk + 1000)) is None
    for text in ("", "menu", "-1", f"{package.pk}:x", f" {package.pk}"):
        assert package_for_sale(text) is None
