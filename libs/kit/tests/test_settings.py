from dataclasses import dataclass

import pytest

from paykit.settings import ConfigError, ConfigProblem, Env, Secret, load_settings


@dataclass(frozen=True)
class ExampleSettings:
    database_url: Secret
    pool_size: int
    debug: bool
    brokers: tuple[str, ...]
    log_level: str
    webhook_secrets: tuple[Secret, ...]

    def __post_init__(self) -> None:
        if not self.brokers:
            raise ValueError("needs at least one broker")


def build_example(env: Env) -> ExampleSettings:
    return ExampleSettings(
        database_url=env.secret("PAYMENT_DATABASE_URL"),
        pool_size=env.int("PAYMENT_DB_POOL_SIZE", default=5, min=1, max=50),
        debug=env.bool("PAYMENT_DEBUG", default=False),
        brokers=env.list("KAFKA_BOOTSTRAP_SERVERS"),
        log_level=env.str("LOG_LEVEL", default="INFO", choices={"DEBUG", "INFO", "WARNING"}),
        webhook_secrets=env.secret_list("WEBHOOK_SECRETS"),
    )


COMPLETE = {
    "PAYMENT_DATABASE_URL": "postgresql://payment:s3cr3t-pw@db/payment",
    "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092, kafka-2:9092",
    "WEBHOOK_SECRETS": "whsec_new,whsec_old",
}


def problem_for(error: ConfigError, variable: str) -> str:
    (problem,) = [p.problem for p in error.problems if p.variable == variable]
    return problem


def test_complete_environment_builds_typed_settings() -> None:
    settings = load_settings(build_example, {**COMPLETE, "PAYMENT_DEBUG": "yes"})

    assert settings.database_url.reveal() == "postgresql://payment:s3cr3t-pw@db/payment"
    assert settings.pool_size == 5
    assert settings.debug is True
    assert settings.brokers == ("kafka-1:9092", "kafka-2:9092")
    assert settings.log_level == "INFO"
    assert [s.reveal() for s in settings.webhook_secrets] == ["whsec_new", "whsec_old"]


def test_settings_repr_never_shows_secret_values() -> None:
    settings = load_settings(build_example, COMPLETE)
    text = f"{settings!r} {settings} {settings.database_url}"

    assert "s3cr3t-pw" not in text
    assert "whsec_new" not in text
    assert "**********" in text


def test_missing_required_variable_names_it() -> None:
    with pytest.raises(ConfigError) as caught:
        Env({}).str("PAYMENT_DATABASE_URL")

    assert (
        str(caught.value) == "invalid configuration: PAYMENT_DATABASE_URL: is required but not set"
    )
    assert caught.value.variables == ("PAYMENT_DATABASE_URL",)


def test_blank_value_counts_as_unset() -> None:
    env = Env({"NAME": "   ", "SIZE": ""})
    assert env.str("NAME", default="fallback") == "fallback"
    assert env.int("SIZE", default=3) == 3
    with pytest.raises(ConfigError, match="NAME: is required"):
        env.str("NAME")


def test_optional_variable_may_default_to_none() -> None:
    env = Env({})
    assert env.str("REDIS_URL", default=None) is None
    assert env.secret("API_TOKEN", default=None) is None


def test_values_are_stripped() -> None:
    env = Env({"HOST": "  db.internal \n", "PORT": " 5432 "})
    assert env.str("HOST") == "db.internal"
    assert env.int("PORT") == 5432


def test_secret_keeps_surrounding_whitespace() -> None:
    assert Env({"KEY": " pad "}).secret("KEY").reveal() == " pad "


@pytest.mark.parametrize("raw", ["five", "5.0", "0x10", "1e3"])
def test_malformed_integer_is_rejected_with_its_name(raw: str) -> None:
    with pytest.raises(ConfigError, match="POOL_SIZE: must be a whole number"):
        Env({"POOL_SIZE": raw}).int("POOL_SIZE", default=5)


def test_integer_below_minimum_is_rejected_even_with_a_default() -> None:
    with pytest.raises(ConfigError, match="POOL_SIZE: must be at least 1; got 0"):
        Env({"POOL_SIZE": "0"}).int("POOL_SIZE", default=5, min=1)


def test_integer_above_maximum_is_rejected() -> None:
    with pytest.raises(ConfigError, match="POOL_SIZE: must be at most 50; got 51"):
        Env({"POOL_SIZE": "51"}).int("POOL_SIZE", max=50)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *[("true", True), ("TRUE", True), ("1", True), ("yes", True), ("on", True)],
        *[("false", False), ("0", False), ("No", False), ("off", False)],
    ],
)
def test_boolean_spellings(raw: str, expected: bool) -> None:
    assert Env({"FLAG": raw}).bool("FLAG") is expected


def test_ambiguous_boolean_is_rejected() -> None:
    with pytest.raises(ConfigError, match="FLAG: must be one of true/false"):
        Env({"FLAG": "maybe"}).bool("FLAG", default=False)


def test_list_drops_blank_items() -> None:
    assert Env({"HOSTS": "a, ,b,,"}).list("HOSTS") == ("a", "b")
    assert Env({"HOSTS": "a;b"}).list("HOSTS", separator=";") == ("a", "b")


def test_list_of_only_separators_counts_as_unset() -> None:
    with pytest.raises(ConfigError, match="HOSTS: is required"):
        Env({"HOSTS": " , ,"}).list("HOSTS")


def test_value_outside_the_choices_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"LOG_LEVEL: must be one of DEBUG, INFO; got 'LOUD'"):
        Env({"LOG_LEVEL": "LOUD"}).str("LOG_LEVEL", choices={"DEBUG", "INFO"})


def test_every_bad_variable_is_reported_in_one_error() -> None:
    environ = {"PAYMENT_DB_POOL_SIZE": "lots", "PAYMENT_DEBUG": "perhaps", "LOG_LEVEL": "LOUD"}
    with pytest.raises(ConfigError) as caught:
        load_settings(build_example, environ)

    error = caught.value
    assert set(error.variables) == {
        "PAYMENT_DATABASE_URL",
        "PAYMENT_DB_POOL_SIZE",
        "PAYMENT_DEBUG",
        "KAFKA_BOOTSTRAP_SERVERS",
        "LOG_LEVEL",
        "WEBHOOK_SECRETS",
    }
    assert problem_for(error, "PAYMENT_DATABASE_URL") == "is required but not set"
    assert problem_for(error, "PAYMENT_DB_POOL_SIZE") == "must be a whole number; got 'lots'"
    assert str(error).startswith("invalid configuration: PAYMENT_DATABASE_URL: is required")


def test_error_from_a_stand_in_value_does_not_hide_the_real_problem() -> None:
    # The missing broker list yields an empty stand-in, which __post_init__ refuses; the operator
    # needs to hear about the variable, not about the stand-in.
    environ = {k: v for k, v in COMPLETE.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    with pytest.raises(ConfigError) as caught:
        load_settings(build_example, environ)
    assert caught.value.variables == ("KAFKA_BOOTSTRAP_SERVERS",)


def test_cross_field_check_can_raise_its_own_config_error() -> None:
    def build(env: Env) -> int:
        low, high = env.int("LOW"), env.int("HIGH")
        if low > high:
            raise ConfigError(ConfigProblem("LOW", "must not exceed HIGH"))
        return high - low

    with pytest.raises(ConfigError, match="LOW: must not exceed HIGH"):
        load_settings(build, {"LOW": "9", "HIGH": "1"})


def test_problem_message_never_contains_a_secret_value() -> None:
    environ = {**COMPLETE, "PAYMENT_DB_POOL_SIZE": "-1"}
    with pytest.raises(ConfigError) as caught:
        load_settings(build_example, environ)
    assert "s3cr3t-pw" not in str(caught.value)
    assert "whsec" not in str(caught.value)


def test_secret_equality_compares_values_without_revealing_them() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"
    assert repr(Secret("a")) == "Secret('**********')"
    assert str(Secret("a")) == "**********"
    assert f"{Secret('a')}" == "**********"


def test_load_settings_reads_the_process_environment_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYKIT_TEST_ANSWER", "42")
    assert load_settings(lambda env: env.int("PAYKIT_TEST_ANSWER")) == 42
