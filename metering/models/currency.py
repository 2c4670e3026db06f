"""Exchange rates with effective dates: 1 ``base`` = ``rate`` ``quote`` from ``effective_from`` on."""

from django.core.exceptions import ValidationError
from django.db import models


class ExchangeRate(models.Model):
    base = models.CharField(max_length=3, help_text="ISO 4217 code, e.g. USD")
    quote = models.CharField(max_length=3, help_text="ISO 4217 code, e.g. EUR")
    rate = models.DecimalField(max_digits=20, decimal_places=10, help_text="1 base = rate quote")
    effective_from = models.DateField()
    source = models.CharField(max_length=100, blank=True, default="", help_text="where the rate came from")

    class Meta:
        ordering = ["base", "quote", "-effective_from"]
        constraints = [models.UniqueConstraint(fields=["base", "quote", "effective_from"], name="exchange_rate_once")]

    def __str__(self) -> str:
        return f"1 {self.base} = {self.rate} {self.quote} from {self.effective_from}"

    def clean(self):
        from metering.chargeback.currency import check_code

        errors = {}
        for name in ("base", "quote"):
            try:
                setattr(self, name, check_code(getattr(self, name)))
            except ValueError as exc:
                errors[name] = str(exc)
        if not errors and self.base == self.quote:
            errors["quote"] = "must differ from the base currency"
        if self.rate is not None and (not self.rate.is_finite() or self.rate <= 0):
            errors["rate"] = "must be a positive number"
        if errors:
            raise ValidationError(errors)
