"""The one normalisation both halves use to tell whether two URLs name one page."""

import pytest

from linkback.common.urls import host_of, normalise, page_key, same_page


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.ORG", "https://example.org/"),
        ("https://example.org:443/a", "https://example.org/a"),
        ("http://example.org:80/a?b=1#frag", "http://example.org/a?b=1"),
        ("http://example.org:8080/A/", "http://example.org:8080/A/"),
        ("https://[2001:DB8::1]:8443/x", "https://[2001:db8::1]:8443/x"),
        ("ftp://example.org/", None),
        ("not a url", None),
        ("http://[::1/", None),
    ],
)
def test_normalise(url: str, expected: str | None) -> None:
    assert normalise(url) == expected


def test_http_https_and_trailing_slash_are_one_page() -> None:
    assert same_page("https://example.org/post", "http://EXAMPLE.org/post/#comments")
    assert page_key("https://example.org") == page_key("http://example.org/")


def test_path_case_and_query_make_other_pages() -> None:
    assert not same_page("https://example.org/Post", "https://example.org/post")
    assert not same_page("https://example.org/p?id=1", "https://example.org/p?id=2")
    assert not same_page("https://example.org/p", "https://example.org:8443/p")
    assert not same_page("ftp://example.org/p", "ftp://example.org/p")


def test_host_of() -> None:
    assert host_of("https://Blog.Test:8443/x") == "blog.test"
    assert host_of("http://[::1") == ""
