"""What is added to rendered pages (SPEC "What is added to rendered pages")."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import lxml.html
import pytest
from lxml import etree

from linkback import Settings
from linkback.common import markup, pages

PAGE_URL = "https://my.blog/2026/11/a post/?x=1&y=é"
WEBMENTION = "https://my.blog/webmention?site=1&x=2"
PINGBACK = "https://my.blog/xmlrpc"
TRACKBACK = "https://my.blog/trackback"
CONTENT = '<p>Hello, <a href="https://other.blog/">you</a>.</p>'
PAGE = (
    "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=utf-8>\n<title>T</title>\n</head>\n"
    f"<body>\n<nav>menu</nav>\n<article>{CONTENT}</article>\n<footer>f</footer>\n</body>\n</html>\n"
)


def make(**values: object) -> Settings:
    return Settings.from_mapping(values, site_url="https://my.blog", environ={})


ENDPOINTS = make(
    webmention_endpoint=WEBMENTION, pingback_endpoint=PINGBACK, trackback_endpoint=TRACKBACK
)


def head_tags(page: str, settings: Settings) -> str:
    """The tags :func:`pages.decorate` inserts into ``page``'s head: those it lacks."""
    return pages._missing_tags(markup.head_of(page), settings)


def add_after_content(page: str, content: str, block: str) -> str:
    """:func:`pages.decorate` with the Trackback block alone."""
    return pages.decorate(page, make(), content, block)


def link_rels(html: str) -> list[tuple[str, str]]:
    tree = lxml.html.document_fromstring(html)
    return [(link.get("rel"), link.get("href")) for link in tree.iter("link")]


def test_head_tags_are_added_inside_head() -> None:
    html = pages.decorate(PAGE, ENDPOINTS)
    assert link_rels(html) == [("webmention", WEBMENTION), ("pingback", PINGBACK)]
    head, body = html.split("</head>")
    assert "webmention" in head and "webmention" not in body
    assert html.replace(head_tags(PAGE, ENDPOINTS), "") == PAGE


def test_head_tags_are_never_added_twice() -> None:
    once = pages.decorate(PAGE, ENDPOINTS)
    assert pages.decorate(once, ENDPOINTS) == once


def test_head_tags_of_the_theme_are_respected() -> None:
    themed = PAGE.replace("</head>", '<LINK REL="Webmention" href="/theirs">\n</head>')
    html = pages.decorate(themed, ENDPOINTS)
    assert link_rels(html) == [("Webmention", "/theirs"), ("pingback", PINGBACK)]


def test_no_endpoints_leave_the_page_untouched() -> None:
    assert pages.decorate(PAGE, make()) == PAGE


def test_only_the_configured_tag_is_added() -> None:
    html = pages.decorate(PAGE, make(pingback_endpoint=PINGBACK))
    assert link_rels(html) == [("pingback", PINGBACK)]


@pytest.mark.parametrize(
    ("endpoint", "joiner"),
    [(TRACKBACK, "?"), ("https://my.blog/tb.php?blog=2", "&")],
)
def test_trackback_uri_encodes_the_page_url(endpoint: str, joiner: str) -> None:
    uri = pages.trackback_uri(PAGE_URL, endpoint)
    assert uri is not None
    assert uri.startswith(endpoint + joiner + "target=")
    encoded = uri[len(endpoint) + 1 + len("target=") :]
    assert all(char not in encoded for char in "?&/: é")
    assert parse_qs(urlsplit(uri).query)["target"] == [PAGE_URL]


def test_no_trackback_endpoint_means_no_uri_and_no_block() -> None:
    assert pages.trackback_uri(PAGE_URL, None) is None
    assert pages.trackback_block(PAGE_URL, "T", make()) == ""


def rdf_description(block: str) -> etree._Element:
    start, end = block.index("<rdf:RDF"), block.index("</rdf:RDF>") + len("</rdf:RDF>")
    root = etree.fromstring(block[start:end].encode())
    (description,) = root.iter("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Description")
    return description


def test_trackback_block_carries_the_rdf_of_the_spec() -> None:
    title = 'Fish & "chips" <3'
    block = pages.trackback_block(PAGE_URL, title, ENDPOINTS)
    uri = pages.trackback_uri(PAGE_URL, TRACKBACK)
    comment_start, rdf_start = block.index("<!--"), block.index("<rdf:RDF")
    assert comment_start < rdf_start < block.index("</rdf:RDF>") < block.index("-->")
    description = rdf_description(block)
    attributes = {etree.QName(name).localname: value for name, value in description.items()}
    assert attributes == {"about": PAGE_URL, "identifier": PAGE_URL, "title": title, "ping": uri}
    assert description.get("{http://purl.org/dc/elements/1.1/}identifier") == PAGE_URL
    ping = description.get("{http://madskills.com/public/xml/rss/module/trackback/}ping")
    assert ping == uri


def test_trackback_block_shows_the_uri_unless_turned_off() -> None:
    uri = pages.trackback_uri(PAGE_URL, TRACKBACK)
    block = pages.trackback_block(PAGE_URL, "T", ENDPOINTS)
    tree = lxml.html.fragment_fromstring(block, create_parent="div")
    (paragraph,) = tree.find_class("linkback-trackback-uri")
    assert paragraph.text_content() == f"Trackback URI: {uri}"
    assert paragraph.find("a").get("href") == uri
    hidden = pages.trackback_block(PAGE_URL, "T", ENDPOINTS.replace(show_trackback_uri=False))
    assert "linkback-trackback-uri" not in hidden
    assert "trackback:ping" in hidden


def test_block_goes_right_after_the_content_once() -> None:
    block = pages.trackback_block(PAGE_URL, "T", ENDPOINTS)
    html = add_after_content(PAGE, CONTENT, block)
    assert CONTENT + block in html
    assert html.replace(block, "") == PAGE
    assert add_after_content(html, CONTENT, block) == html


def test_block_goes_before_body_end_when_the_content_is_not_found() -> None:
    block = pages.trackback_block(PAGE_URL, "T", ENDPOINTS)
    html = add_after_content(PAGE, "<p>changed by the theme</p>", block)
    assert html.index(block) > html.index("<footer>")
    assert html.endswith(block + "</body>\n</html>\n")
    assert html.replace(block, "") == PAGE


def test_decorate_makes_both_insertions_in_one_call() -> None:
    block = pages.trackback_block(PAGE_URL, "T", ENDPOINTS)
    separately = pages.decorate(add_after_content(PAGE, CONTENT, block), ENDPOINTS)
    assert pages.decorate(PAGE, ENDPOINTS, CONTENT, block) == separately
    assert pages.decorate(separately, ENDPOINTS, CONTENT, block) == separately


def test_block_follows_the_last_copy_of_the_content_not_a_copy_of_its_end() -> None:
    content = "<p>" + "A long paragraph that ends the article, word after word. " * 3 + "</p>"
    ending = content[len(content) // 2 :]  # a later echo of the content's last characters
    page = PAGE.replace(CONTENT, content).replace("<nav>menu</nav>", f"<nav>{content}</nav>")
    page = page.replace("<footer>f</footer>", f"<footer>{ending}</footer>")
    html = add_after_content(page, content, "<!--B-->")
    assert html == page.replace(f"{content}</article>", f"{content}<!--B--></article>")


@pytest.mark.parametrize(
    ("page", "anchor"),
    [
        (PAGE.replace("</head>", "</HEAD >"), "</HEAD >"),
        (PAGE.replace("<footer>f</footer>", "<script>'</head>'</script>"), "</head>"),
        ("<html><body class=x><p>no head</p></body></html>", "<body class=x>"),
        ("<p>a fragment</p>", "<p>a fragment</p>"),
    ],
)
def test_head_tags_go_before_the_first_head_end_or_body(page: str, anchor: str) -> None:
    tags = head_tags(page, ENDPOINTS)
    html = pages.decorate(page, ENDPOINTS)
    assert html.replace(tags, "", 1) == page
    assert html.index(tags + anchor) == page.index(anchor)


# Where the head and the body end is the tokenizer's answer, not a text search's.
TRICKY_HEAD = (
    "<!DOCTYPE html>\n<html>\n<head>\n"
    '<!-- the theme: </head> <body> <link rel="webmention" href="/old"> -->\n'
    '<meta name="description" content="a </head> and a <body> in an attribute">\n'
    "<title>On </head> and <body></title>\n"
    '<script>var s = "</head><body>";</script>\n'
    "<style>/* </head> */</style>\n"
    "</head>\n<body>\n<article>" + CONTENT + "</article>\n"
    "</body>\n<!-- tracking: </body> -->\n</html>\n"
)


def test_head_tags_go_where_the_head_really_ends() -> None:
    html = pages.decorate(TRICKY_HEAD, ENDPOINTS)
    tags = head_tags(TRICKY_HEAD, ENDPOINTS)
    real_end = TRICKY_HEAD.index("</head>\n<body>")
    assert html == TRICKY_HEAD[:real_end] + tags + TRICKY_HEAD[real_end:]
    assert link_rels(html) == [("webmention", WEBMENTION), ("pingback", PINGBACK)]


def test_a_commented_out_link_advertises_nothing() -> None:
    """The tag in the theme's comment is not on the page: linkback's own is added."""
    page = PAGE.replace("<title>", '<!-- <link rel="webmention" href="/old"> --><title>')
    assert head_tags(page, ENDPOINTS).startswith('<link rel="webmention"')


def test_block_goes_before_the_real_body_end() -> None:
    block = pages.trackback_block(PAGE_URL, "T", ENDPOINTS)
    html = add_after_content(TRICKY_HEAD, "<p>changed by the theme</p>", block)
    real_end = TRICKY_HEAD.rindex("</body>\n<!--")
    assert html == TRICKY_HEAD[:real_end] + block + TRICKY_HEAD[real_end:]


@pytest.mark.parametrize(
    ("page", "anchor"),
    [
        ("<html><head><title>t</title><div>no body tag</div></html>", "<div>"),
        ("<head><meta charset=utf-8>Text starts the body</head>", "Text starts"),
        ("<html><head><link rel=stylesheet href=s.css></html>", "</html>"),
    ],
)
def test_a_head_without_its_end_tag_ends_where_the_body_starts(page: str, anchor: str) -> None:
    tags = head_tags(page, ENDPOINTS)
    html = pages.decorate(page, ENDPOINTS)
    assert html == page.replace(anchor, tags + anchor, 1)


@pytest.mark.parametrize(
    ("page", "has_webmention", "anchor"),
    [
        # An unquoted value holds a quote; the link after it is a real one.
        ('<head><meta content=a"b><link rel=webmention href=/x></head><p>', True, "</head>"),
        ("<head><meta content='x </head> y'></head><p>", False, "</head><p>"),
        ('<head><title>a < b</head></title><link rel="webmention"></head>', True, "</head>"),
        ("<head><noscript></head></noscript></head>", False, "</head>"),
        ("<head><meta x=1>< not a tag</head>", False, "< not a tag"),
        ('<head><link rel="pingback" title="rel=webmention"></head>', False, "</head>"),
        ("<!DOCTYPE html><?xml-stylesheet href='x'?><head></HEAD\n>", False, "</HEAD\n>"),
    ],
)
def test_the_tokenizer_reads_tags_as_browsers_do(
    page: str, has_webmention: bool, anchor: str
) -> None:
    tags = head_tags(page, ENDPOINTS)
    assert ('rel="webmention"' not in tags) is has_webmention
    at = page.rindex(anchor)  # the last one: the others are inside a title or a noscript
    assert pages.decorate(page, ENDPOINTS) == page[:at] + tags + page[at:]


@pytest.mark.parametrize(
    ("html", "name", "index", "expected"),
    [
        ("<div>a<div>b</div></div><div>c</div>", "div", 0, "<div>a<div>b</div></div>"),
        ("<div>a<div>b</div></div><div>c</div>", "div", 1, "<div>b</div>"),
        ("<div>a<div>b</div></div><DIV>c</Div>", "div", 2, "<DIV>c</Div>"),
        (
            "<main><script>'</main>'</script><!-- </main> --></main>",
            "main",
            0,
            "<main><script>'</main>'</script><!-- </main> --></main>",
        ),
        (
            "<main><script>x='</main>'</script></main><p>",
            "main",
            0,
            "<main><script>x='</main>'</script></main>",
        ),
        ("<article>never closed", "article", 0, None),
        ("<article>one</article>", "article", 1, None),
    ],
)
def test_element_markup_is_the_element_as_written(
    html: str, name: str, index: int, expected: str | None
) -> None:
    assert markup.element_markup(html, name, index) == expected
