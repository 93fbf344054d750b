"""Bot texts: every text the bot sends, per language, the code's default beside what staff wrote instead."""

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import formats, timezone, translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from apps.bot import texts
from apps.bot.models import BotText


def _language_name(code: str) -> str:
    return translation.get_language_info(code)["name"]


class LanguageFilter(admin.SimpleListFilter):
    title = "language"
    parameter_name = "language"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(code, _language_name(code)) for code in texts.text_languages()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[BotText]) -> QuerySet[BotText]:
        return queryset.filter(language=self.value()) if self.value() else queryset


class OverriddenFilter(admin.SimpleListFilter):
    title = "override"
    parameter_name = "overridden"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Overridden"), ("no", "Default in use")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[BotText]) -> QuerySet[BotText]:
        if self.value() == "yes":
            return queryset.exclude(text="")
        if self.value() == "no":
            return queryset.filter(text="")
        return queryset


class BotTextForm(forms.ModelForm):
    class Meta:
        model = BotText
        fields = ["text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 8, "cols": 90})}
        help_texts = {
            "text": "What the bot sends in this language. It starts as the default: change it, or empty it "
            "to go back to the default. Keep every placeholder; the bot puts its value there.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.text:  # staff edit the default in place; saved unchanged, it stays the default
            self.initial["text"] = texts.default_text(self.instance.key, self.instance.language)

    def clean_text(self) -> str:
        return texts.override_clean(self.instance.key, self.instance.language, self.cleaned_data["text"])


@admin.register(BotText)
class BotTextAdmin(admin.ModelAdmin):
    form = BotTextForm
    list_display = ["text_key", "language", "default", "override"]
    list_filter = [LanguageFilter, OverriddenFilter]
    sortable_by = ()  # by key, then language: a text's languages side by side
    search_fields = ["key"]  # and the texts: get_search_results
    search_help_text = "Finds words in the key, the default text and the override, in any case."
    list_per_page = 500  # every text on one page
    fields = ["key", "language_name", "default", "placeholders", "text", "edited"]
    readonly_fields = ["key", "language_name", "default", "placeholders", "edited"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # one row per text and language, made by the list itself

    def has_delete_permission(self, request: HttpRequest, obj: BotText | None = None) -> bool:
        return False  # an empty override is the default

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        texts.bot_texts_sync()
        return super().changelist_view(request, {"title": "Bot texts", **(extra_context or {})})

    def get_queryset(self, request: HttpRequest) -> QuerySet[BotText]:
        # Rows of a text the code no longer has (or a language the bot no longer speaks) are left alone.
        queryset = super().get_queryset(request).select_related("updated_by")
        return queryset.filter(key__in=texts.text_keys(), language__in=texts.text_languages())

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[BotText], search_term: str
    ) -> tuple[QuerySet[BotText], bool]:
        if not search_term.strip():
            return queryset, False
        found = [row.pk for row in queryset if texts.bot_text_matches(row, search_term)]
        return queryset.filter(pk__in=found), False

    def save_model(self, request: HttpRequest, obj: BotText, form: forms.ModelForm, change: bool) -> None:
        texts.bot_text_update(bot_text=obj, text=form.cleaned_data["text"], updated_by=request.user)

    @admin.display(description="key", ordering="key")
    def text_key(self, obj: BotText) -> SafeString:
        """COMMAND_DESCRIPTIONS.<wbr>start: a narrow column breaks it at the dot, not inside a word."""
        return format_html_join(mark_safe(".<wbr>"), "{}", ((part,) for part in obj.key.split(".")))

    @admin.display(description="language", ordering="language")
    def language_name(self, obj: BotText) -> str:
        return _language_name(obj.language)

    @admin.display(description="default text")
    def default(self, obj: BotText) -> SafeString:
        return _shown(texts.default_text(obj.key, obj.language))

    @admin.display(description="override", ordering="text")
    def override(self, obj: BotText) -> SafeString | str:
        return _shown(obj.text) if obj.text else "—"

    @admin.display(description="placeholders")
    def placeholders(self, obj: BotText) -> SafeString | str:
        needed = texts.placeholders(obj.key)
        if not needed:
            return "None: this text is sent as it is written."
        listed = format_html_join(", ", "<code>{}</code>", ((field,) for field in needed))
        return format_html("{}<br>The bot puts a value in each; the override must keep all of them.", listed)

    @admin.display(description="edited", ordering="updated_at")
    def edited(self, obj: BotText) -> str:
        if obj.updated_at is None:
            return "Never: the bot sends the default."
        when = formats.localize(timezone.localtime(obj.updated_at))
        return f"{when} by {obj.updated_by}" if obj.updated_by else when


def _shown(text: str) -> SafeString:
    """Line breaks as the user sees them."""
    return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in text.split("\n")))
