"""Erasing a person everywhere from their admin page (apps.bot.flows.erase): the "Erase everywhere…" button, a
page that says what goes and what stays (a renewing subscription is cancelled with Telegram first) and asks why,
and the receipts erases leave, which staff may read but never change or delete: they are the proof."""

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import capfirst

from apps.billing.selectors import renewing_subscriptions
from apps.bot.flows.erase import SubscriptionNotCanceled, user_erase
from apps.core.admin import PermanentRecordAdmin
from apps.core.money import count_text
from apps.users.models import ErasureReceipt, TelegramUser

ERASE_PERMISSION = "users.erase_telegramuser"
ERASE_DESCRIPTION = (
    "Removes what identifies this person, what they wrote and what was inferred about them; their payments and "
    "ledger stay under a pseudonym. The next page says what exactly and asks for the reason."
)


class EraseForm(forms.Form):
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Kept on the receipt: why this person is erased (their request, a ticket number). "
        "Do not write their name or anything else that identifies them.",
    )


def user_records(user_id: int) -> list[tuple[str, int]]:
    """How many rows of each table point at the user's row, most first: what the erase will remove or keep
    under the pseudonym."""
    counts = []
    for relation in TelegramUser._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete and (relation.one_to_many or relation.one_to_one)):
            continue  # not a table that points at users
        model = relation.related_model
        count = model._default_manager.filter(**{relation.field.name: user_id}).count()
        if count:
            counts.append((table_name(model._meta.label), count))
    return sorted(counts, key=lambda row: (-row[1], row[0]))


def table_name(label: str) -> str:
    """A table as staff read it: billing.Operation is "Operations (Billing)"; a label no model has, as it is."""
    try:
        opts = apps.get_model(label)._meta
    except LookupError:
        return label
    return f"{capfirst(opts.verbose_name_plural)} ({opts.app_config.verbose_name})"


class UserErase(admin.ModelAdmin):
    """Mixed into the user admin: the `erase_link` button, for staff who may erase, and the page behind it."""

    def get_urls(self) -> list[URLPattern]:
        erase = path(
            "<int:user_id>/erase/",
            self.admin_site.admin_view(self.erase_view),
            name="users_telegramuser_erase",
        )
        return [erase, *super().get_urls()]

    def has_erase_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ERASE_PERMISSION)

    def get_fieldsets(self, request: HttpRequest, obj: TelegramUser | None = None) -> list:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.erased_at is not None or not self.has_erase_permission(request):
            return fieldsets
        return [*fieldsets, ("Erase", {"fields": ["erase_link"], "description": ERASE_DESCRIPTION})]

    @admin.display(description="erase")
    def erase_link(self, obj: TelegramUser) -> SafeString:
        url = reverse(f"{self.admin_site.name}:users_telegramuser_erase", args=[obj.pk])
        return format_html(
            '<a class="button" style="background: var(--delete-button-bg)" href="{}">Erase everywhere…</a>', url
        )

    def erase_view(self, request: HttpRequest, user_id: int) -> HttpResponse:
        """GET asks; only a POST with a reason erases."""
        if not self.has_erase_permission(request):
            raise PermissionDenied
        person = TelegramUser.objects.filter(pk=user_id, erased_at__isnull=True).first()
        if person is None:
            raise Http404("no such person")
        form = EraseForm(request.POST) if request.method == "POST" else EraseForm()
        if form.is_valid():
            try:
                receipt = user_erase(
                    user_id, reason=form.cleaned_data["reason"], via=ErasureReceipt.Via.ADMIN, staff=request.user
                )
            except SubscriptionNotCanceled as error:
                form.add_error(None, str(error))
                return self._erase_page(request, person, form)
            if receipt is None:  # erased meanwhile (by the person's /forget, or another staff member)
                self.message_user(request, "This person was already erased.", messages.WARNING)
                return HttpResponseRedirect(reverse(f"{self.admin_site.name}:users_telegramuser_changelist"))
            # No name in the message: it is stored in the session until shown.
            self.message_user(request, "Erased everywhere. This receipt is what remains.", messages.SUCCESS)
            return HttpResponseRedirect(
                reverse(f"{self.admin_site.name}:users_erasurereceipt_change", args=[receipt.pk])
            )
        return self._erase_page(request, person, form)

    def _erase_page(self, request: HttpRequest, person: TelegramUser, form: EraseForm) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": f"Erase {person} everywhere",
            "opts": self.model._meta,
            "original": person,
            "form": form,
            "records": user_records(person.pk),
            "renewing": renewing_subscriptions(person.pk),
        }
        return TemplateResponse(request, "admin/users/telegramuser/erase.html", context)


@admin.register(ErasureReceipt)
class ErasureReceiptAdmin(PermanentRecordAdmin):
    list_display = ["erased_at", "via", "erased_by", "reason", "rows"]
    list_filter = ["via", ("erased_at", admin.DateFieldListFilter)]
    list_select_related = ["erased_by"]
    search_fields = ["reason"]
    date_hierarchy = "erased_at"
    ordering = ["-erased_at"]
    fields = ["erased_at", "via", "erased_by", "reason", "pseudonym", "rows_per_table"]
    readonly_fields = fields

    def has_view_permission(self, request: HttpRequest, obj: ErasureReceipt | None = None) -> bool:
        """Who may erase reads the receipts, the one their erase leaves included."""
        return super().has_view_permission(request, obj) or request.user.has_perm(ERASE_PERMISSION)

    @admin.display(description="rows")
    def rows(self, receipt: ErasureReceipt) -> str:
        return count_text(sum(receipt.counts.values()))

    @admin.display(description="pseudonym")
    def pseudonym(self, receipt: ErasureReceipt) -> SafeString:
        url = reverse(f"{self.admin_site.name}:users_telegramuser_change", args=[receipt.pseudonym_id])
        return format_html('<a href="{}">{}</a> (keeps the ledger and payments)', url, receipt.pseudonym_id)

    @admin.display(description="rows per table")
    def rows_per_table(self, receipt: ErasureReceipt) -> SafeString:
        rows = sorted(
            ((table_name(label), count) for label, count in receipt.counts.items()), key=lambda row: (-row[1], row[0])
        )
        body = format_html_join(
            "", '<tr><td>{}</td><td style="text-align: right">{}</td></tr>', ((t, count_text(n)) for t, n in rows)
        )
        return format_html(
            '<table><thead><tr><th>table</th><th style="text-align: right">rows</th></tr></thead>'
            '<tbody>{}</tbody><tfoot><tr><th>total</th><th style="text-align: right">{}</th></tr></tfoot></table>',
            body,
            self.rows(receipt),
        )
