"""Start-up refuses a configuration that cannot serve, with a one-line reason."""

import pytest
from conftest import CREDENTIALS

import config


def settings_from(**changes):
    environ = {**CREDENTIALS, "DATABASE_PATH": "/tmp/x.db", **changes}
    return config.from_environ({k: v for k, v in environ.items() if v is not None})


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
