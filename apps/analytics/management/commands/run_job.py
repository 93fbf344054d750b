from celery import current_app as app
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_celery_beat.models import PeriodicTask


class Command(BaseCommand):
    help = "Run a scheduled job now, here (without a worker), as beat would have it run: `run_job --list` names them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("task", nargs="?", help="the task's name, or its last part (e.g. purge_events)")
        parser.add_argument("--list", action="store_true", help="list the scheduled jobs")

    def handle(self, *args: object, task: str | None, list: bool, **options: object) -> None:
        app.loader.import_default_modules()
        scheduled = {job.task: job.name for job in PeriodicTask.objects.exclude(task="").order_by("task")}
        if list or not task:
            for name, title in scheduled.items():
                self.stdout.write(f"{name.rsplit('.', 1)[-1]:28} {title}")
            return
        matches = [name for name in scheduled if task in (name, name.rsplit(".", 1)[-1])]
        if len(matches) != 1:
            raise CommandError(f"no single scheduled job named {task!r}; see run_job --list")
        result = app.tasks[matches[0]].apply().get()
        self.stdout.write(self.style.SUCCESS(f"{matches[0]}: {result}"))
