"""Production settings refuse unsafe defaults; `check --deploy` is clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "k" * 20 + "-production-secret-with-enough-entropy-0123456789",
    "DATABASE_URL": "postgres://app@db.internal:5432/vastavuoro",
    "ALLOWED_HOSTS": "example.com",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if key not in {*PRODUCTION, "DEBUG"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_reports_no_issues_in_production():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_a_required_setting(missing):
    env = {key: value for key, value in PRODUCTION.items() if key != missing}

    result = manage("check", **env)

    assert result.returncode == 2
    assert f"Configuration error: {missing} must be set when DJANGO_ENV=production." in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_environment_name_is_refused():
    result = manage("check", DJANGO_ENV="staging")

    assert result.returncode == 2
    assert "DJANGO_ENV must be one of" in result.stderr


def test_embedded_defaults_use_sqlite_wal_and_the_file_system_broker(tmp_path):
    script = (
        "import django, json; django.setup(); from django.conf import settings; from django.db import connection;"
        "cursor = connection.cursor(); cursor.execute('PRAGMA journal_mode');"
        "print(json.dumps([settings.DATABASES['default']['ENGINE'], cursor.fetchone()[0],"
        " settings.CELERY_BROKER_URL, settings.EMAIL_BACKEND, str(settings.EMAIL_FILE_PATH)]))"
    )
    clean = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_ENV": "development",
            "VAR_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    engine, journal, broker, email_backend, mail_dir = __import__("json").loads(result.stdout)
    assert engine == "django.db.backends.sqlite3"
    assert journal == "wal"
    assert broker == "filesystem://"
    assert email_backend == "django.core.mail.backends.filebased.EmailBackend"
    assert mail_dir == str(tmp_path / "mail")
    assert (tmp_path / "broker" / "out").is_dir()


def test_every_environment_variable_is_documented_in_env_example():
    import re

    source = (ROOT / "config" / "settings.py").read_text()
    read = set(re.findall(r'(?:os\.environ\.get|env_bool|env_list|env_required)\(\s*"([A-Z_]+)"', source))
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", (ROOT / ".env.example").read_text(), flags=re.M))

    assert read
    assert sorted(read - documented) == []
