"""Who may read what through the API: the view permissions of the models behind it, as in the admin."""

from typing import Any

from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request


class ViewPermissionsRequired(IsAdminUser):
    """Staff with every permission the view names in `reads` ("app.view_model", …). A view that names
    none is refused: what it reads has to be said, or nobody reads it."""

    def has_permission(self, request: Request, view: Any) -> bool:  # DRF's views import this module
        reads = getattr(view, "reads", None)
        return bool(reads) and super().has_permission(request, view) and request.user.has_perms(reads)
