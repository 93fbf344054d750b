from django.contrib.admin.apps import AdminConfig


class BotdeskAdminConfig(AdminConfig):
    default_site = "config.admin.BotdeskAdminSite"
