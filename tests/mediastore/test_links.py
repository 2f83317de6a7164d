"""mediastore.links: the one rule for outsiders' links (absolute http(s), bounded length)."""

from __future__ import annotations

import pytest

from mediastore.links import MAX_LINK_LENGTH, UNSAFE_LINK_CODE, UnsafeLink, http_url, http_url_check

REFUSED = [
    "javascript:alert(1)",
    "JAVASCRIPT:alert(1)",
    "  javascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "javascript://example.com/%0aalert(1)",
    "data:text/html;base64,PHNjcmlwdD4=",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "ftp://files.example/a",
    "//evil.example/x",
    "/relative/path",
    "https://",
    "http://exa mple.com/",
    "mailto:a@example.com",
]
ACCEPTED = [
    "https://sns.example/p/1",
    "http://127.0.0.1:8000/x?y=1#z",
    "HTTPS://Agency.Example/Photos/7",
    "https://例え.jp/パス",
]


@pytest.mark.parametrize("value", REFUSED)
def test_non_http_links_are_refused(value: str) -> None:
    assert http_url(value) == ""
    with pytest.raises(UnsafeLink) as refused:
        http_url_check(value, field="appearance_url")
    message = str(refused.value)
    assert message.startswith("appearance_url: only http:// and https:// links")
    assert "\n" not in message
    assert refused.value.code == UNSAFE_LINK_CODE and refused.value.field == "appearance_url"


@pytest.mark.parametrize("value", ACCEPTED)
def test_http_links_pass_stripped(value: str) -> None:
    assert http_url(f"  {value} ") == value
    assert http_url_check(f" {value}\n", field="url") == value


@pytest.mark.parametrize("value", [None, "", "   "])
def test_empty_means_no_link(value: str | None) -> None:
    assert http_url(value) == ""
    assert http_url_check(value, field="url") == ""


@pytest.mark.parametrize("value", [42, ["https://a.example/"], {"url": "https://a.example/"}])
def test_values_that_are_not_text_are_refused(value: object) -> None:
    assert http_url(value) == ""
    with pytest.raises(UnsafeLink):
        http_url_check(value, field="url")


def test_length_boundary() -> None:
    prefix = "https://a.example/"
    longest = prefix + "x" * (MAX_LINK_LENGTH - len(prefix))
    assert http_url(longest) == longest
    assert http_url(longest + "x") == ""
    with pytest.raises(UnsafeLink, match="at most 2000 characters"):
        http_url_check(longest + "x", field="url")


def test_message_repeats_only_the_start_of_a_long_value() -> None:
    with pytest.raises(UnsafeLink) as refused:
        http_url_check("javascript:" + "a" * 5000, field="url")
    assert len(str(refused.value)) < 200
