from django.apps import apps
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import post_migrate


class BotdeskAdminConfig(AdminConfig):
    default_site = "config.admin.BotdeskAdminSite"

    def ready(self) -> None:
        super().ready()
        # The beat schedule (config/schedule.py) is synced after every migrate. Connected here because this
        # is config's one AppConfig (a second one in INSTALLED_APPS would be an app with no models just for
        # a signal). The sender is django_celery_beat's AppConfig, so the sync runs once per migrate (not
        # once per app) and after beat's tables exist; dispatch_uid keeps it connected once even if ready()
        # runs again.
        from config.schedule import sync_schedule_after_migrate

        post_migrate.connect(
            sync_schedule_after_migrate,
            sender=apps.get_app_config("django_celery_beat"),
            dispatch_uid="config.schedule.sync_schedule_after_migrate",
        )
        # Every run of a scheduled job is recorded, in whichever process runs it (Django is set up in each).
        from config.job_recording import record_job_runs

        record_job_runs()
        # The job list replaces django-celery-beat's "Periodic tasks" page, registered by autodiscover above.
        from config import jobs_admin  # noqa: F401
