"""Start-up refuses a configuration that cannot serve, with a one-line reason."""

import pytest
from conftest import CREDENTIALS, settings_from

import config


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"WEBHOOK_TOKEN": None, "WEBHOOK_USERNAME": None, "WEBHOOK_PASSWORD": None},
         "no webhook credentials"),
        ({"WEBHOOK_PASSWORD": None}, "set both WEBHOOK_USERNAME and WEBHOOK_PASSWORD"),
        ({"VIEWER_PASSWORD": None}, "VIEWER_USERNAME and VIEWER_PASSWORD"),
        ({"VIEWER_USERNAME": CREDENTIALS["WEBHOOK_USERNAME"],
          "VIEWER_PASSWORD": CREDENTIALS["WEBHOOK_PASSWORD"]}, "must differ"),
        ({"MAX_BODY_BYTES": "lots"}, "MAX_BODY_BYTES must be a positive"),
        ({"SQLITE_SYNCHRONOUS": "sometimes"}, "SQLITE_SYNCHRONOUS must be one of"),
        ({"VIEWER_PASSWORD": "short"}, "VIEWER_PASSWORD is too weak for production: "
         "use at least 12 characters"),
        ({"WEBHOOK_PASSWORD": "Password2026!!"}, "WEBHOOK_PASSWORD is too weak for "
         "production: it is a well-known default"),
        ({"WEBHOOK_TOKEN": "Changeme2026!!"}, "WEBHOOK_TOKEN is too weak"),
        ({"VIEWER_PASSWORD": "viewer-at-hq-2026"}, "it contains the username"),
        ({"SESSION_SECRET": "abababababababab"}, "use at least 6 different"),
        ({"ARCHIVE_ENV": "staging"}, "ARCHIVE_ENV must be one of"),
        ({"RETENTION_DAYS": "0"}, "RETENTION_DAYS must be a positive"),
    ],
)  # fmt: skip
def test_bad_configuration_is_refused_in_one_line(changes, reason):
    with pytest.raises(config.ConfigError) as refused:
        settings_from(**changes)

    assert reason in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "drop", [["WEBHOOK_TOKEN"], ["WEBHOOK_USERNAME", "WEBHOOK_PASSWORD"]]
)
def test_either_credential_form_alone_is_enough(drop):
    settings = settings_from(**dict.fromkeys(drop))
    assert settings.database_name == "x"


def test_development_accepts_the_weak_secrets_production_refuses():
    settings = settings_from(ARCHIVE_ENV="development", VIEWER_PASSWORD="short")

    assert not settings.production
    assert settings_from().production


def test_retention_is_off_unless_configured():
    assert settings_from().retention_days is None
    assert settings_from(RETENTION_DAYS="90").retention_days == 90
