"""The admin's shared bases for rows staff may look at but not shape."""

from django.contrib import admin
from django.http import HttpRequest


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the system writes (logs, rollups, runs): staff look and filter, never add or edit."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class PermanentRecordAdmin(ReadOnlyAdmin):
    """Records staff must not delete either (the ledger, payments, logs, broadcast deliveries): only the
    code that writes them, or their retention job, removes any."""

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
