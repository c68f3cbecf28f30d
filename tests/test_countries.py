"""Countries for the weekly post: ISO codes from the tz database's list, a server's default from its locale."""

from __future__ import annotations

import pytest

from bot.common.errors import UserFacingError
from bot.weekly import country_choices, country_from_locale, resolve_country


@pytest.mark.parametrize(
    ("locale", "country"),
    [("en-GB", "GB"), ("en-US", "US"), ("pt-BR", "BR"), ("zh-TW", "TW"), ("de", "DE"), ("ja", "JP"),
     ("es-419", "US"), ("eo", "US"), (None, "US"), ("", "US")],
)  # fmt: skip
def test_the_default_country_comes_from_the_servers_locale(locale: str | None, country: str) -> None:
    assert country_from_locale(locale) == country


def test_codes_and_names_resolve_and_anything_else_is_one_sentence() -> None:
    assert resolve_country(" gb ") == "GB"
    assert resolve_country("germany") == "DE"
    with pytest.raises(UserFacingError) as caught:
        resolve_country("Atlantis")
    assert str(caught.value) == '"Atlantis" is not a country code: pick one from the list, like GB or US.'


def test_choices_put_the_typed_code_first_then_names() -> None:
    assert country_choices("gb")[0] == ("United Kingdom (GB)", "GB")
    assert ("United States (US)", "US") in country_choices("united")
    assert len(country_choices("")) == 25 and all(len(label) <= 100 for label, _ in country_choices(""))
