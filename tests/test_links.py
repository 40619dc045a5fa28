"""Which links of a page are pinged (SPEC "What is sent", Links)."""

from __future__ import annotations

import pytest

from linkback import Settings
from linkback.sending.discovery import parse_html
from linkback.sending.links import hrefs, outbound, parse_fragment, served_hrefs

PAGE = "https://my.blog/2026/11/a-post/"


def make(**values: object) -> Settings:
    return Settings.from_mapping(values, site_url="https://my.blog", environ={})


def links(html: str, **values: object) -> list[str]:
    return outbound(parse_fragment(html), PAGE, make(**values))


def test_links_are_made_absolute_in_document_order() -> None:
    html = (
        '<p><a href="https://b.example/x">b</a> <a href="//c.example/y">c</a>'
        ' <a href="http://a.example/">a</a></p>'
    )
    assert links(html) == ["https://b.example/x", "https://c.example/y", "http://a.example/"]


def test_relative_links_resolve_against_the_page_and_stay_on_site() -> None:
    # Relative links point to the site itself: no self-pings.
    assert links('<a href="../other/">o</a><a href="/about/">a</a>') == []


def test_fragment_is_removed_and_each_target_is_kept_once() -> None:
    html = (
        '<a href="https://o.example/post/#comments">1</a>'
        '<a href="https://o.example/post/">2</a>'
        '<a href="https://o.example/post/#top">3</a>'
    )
    assert links(html) == ["https://o.example/post/"]


def test_target_is_otherwise_exactly_as_written() -> None:
    written = [
        "https://o.example/post",  # no trailing slash added
        "https://o.example/post/",  # trailing slash kept, a different target
        "https://o.example/p?b=2&a=1",  # query order kept
        "https://o.example/Case/%7Euser",  # case and escapes kept
    ]
    html = "".join(f'<a href="{url.replace("&", "&amp;")}">x</a>' for url in written)
    assert links(html) == written


@pytest.mark.parametrize(
    "href",
    [
        "mailto:me@o.example",
        "ftp://o.example/file",
        "javascript:alert(1)",
        "tel:+123",
        "#section",
        "",
        "http://",
        "https://[::1",
    ],
)
def test_only_http_links_count(href: str) -> None:
    assert links(f'<a href="{href}">x</a><a href="https://o.example/">o</a>') == [
        "https://o.example/"
    ]


def test_links_to_the_site_itself_are_not_pinged() -> None:
    html = (
        '<a href="https://my.blog/other/">self</a>'
        '<a href="http://MY.blog/x">self, other scheme and case</a>'
        '<a href="https://sub.my.blog/">another host</a>'
    )
    assert links(html) == ["https://sub.my.blog/"]


def test_excluded_links_are_not_pinged() -> None:
    html = (
        '<a href="https://twitter.com/me">t</a>'
        '<a href="https://o.example/post/">o</a>'
        '<a href="https://x.example/secret/page">s</a>'
    )
    assert links(html, exclude=["twitter\\.com", "/secret/"]) == ["https://o.example/post/"]


def test_only_anchor_hrefs_count() -> None:
    html = (
        '<img src="https://img.example/a.png"><link href="https://css.example/a.css">'
        '<a name="x">no href</a><a href="https://o.example/">o</a>'
        '<script>var a = "<a href=https://js.example/>";</script>'
        "<!-- <a href='https://comment.example/'>c</a> -->"
        '<pre>&lt;a href="https://escaped.example/"&gt;</pre>'
    )
    assert links(html) == ["https://o.example/"]


def test_broken_or_empty_html_gives_what_it_can() -> None:
    assert links("") == []
    assert links("   ") == []
    assert links('<p><a href="https://o.example/">unclosed <div></p></span>') == [
        "https://o.example/"
    ]


def test_entities_in_hrefs_are_decoded() -> None:
    assert links('<a href="https://o.example/?a=1&amp;b=2">x</a>') == ["https://o.example/?a=1&b=2"]


SERVED = (
    "<!doctype html><html><head><title>t</title></head><body>"
    '<nav><A HREF="/">home</A></nav>'
    '<p><a href="https://b.example/x?a=1&amp;b=2">b</a> <a>no href</a> <a href="">empty</a>'
    '<script>document.write("<a href=https://script.example/>")</script>'
    '<!-- <a href="https://comment.example/"> -->'
    '<a href="https://caf\u00e9.example/">caf\u00e9</a>'
)


@pytest.mark.parametrize("charset", ["utf-8", None, "not-a-charset"])
def test_a_served_page_gives_the_same_hrefs_as_its_tree(charset: str | None) -> None:
    # The live check streams the served page instead of building its tree.
    body = SERVED.encode("utf-8")
    assert served_hrefs(body, charset) == hrefs(parse_html(body, charset))
    assert served_hrefs(body, "utf-8") == [
        "/",
        "https://b.example/x?a=1&b=2",
        "",
        "https://caf\u00e9.example/",
    ]


def test_a_served_page_in_another_charset_is_decoded_as_declared() -> None:
    body = '<a href="https://b.example/\u00e9t\u00e9">x</a>'.encode("latin-1")
    assert served_hrefs(body, "iso-8859-1") == ["https://b.example/\u00e9t\u00e9"]


@pytest.mark.parametrize("body", [b"", b"   \n", b"\x00\xff\xfe", b"not html at all"])
def test_an_empty_or_broken_served_page_has_no_hrefs(body: bytes) -> None:
    assert served_hrefs(body, "utf-8") == []
