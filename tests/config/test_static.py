"""The production admin's static files: collectstatic with the manifest storage production uses."""

from io import StringIO

from django.core.management import call_command
from django.test import override_settings


def test_collectstatic_writes_the_manifest_production_serves(tmp_path):
    """Every file post-processes: a reference to a file that is not shipped (a vendored library's
    source map) fails the whole run, no manifest is written, and every admin page answers 500."""
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=storages):
        call_command("collectstatic", interactive=False, verbosity=0, stdout=StringIO())
    assert (tmp_path / "staticfiles.json").exists()
    assert list(tmp_path.glob("analytics/vendor/chartjs/chart.umd.min.*.js")), "the dashboard's chart library"
