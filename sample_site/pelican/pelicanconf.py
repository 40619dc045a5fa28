AUTHOR = "Sam Ple"
SITENAME = "A linkback sample"
SITEURL = ""

PATH = "content"

TIMEZONE = "UTC"

DEFAULT_LANG = "en"

# Blog-style addresses, e.g. /2026/11/hello-linkbacks/
ARTICLE_URL = "{date:%Y}/{date:%m}/{slug}/"
ARTICLE_SAVE_AS = "{date:%Y}/{date:%m}/{slug}/index.html"
PAGE_URL = "{slug}/"
PAGE_SAVE_AS = "{slug}/index.html"

# Feed generation is usually not desired when developing
FEED_ALL_ATOM = None
CATEGORY_FEED_ATOM = None
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None

# Blogroll: the theme's links are never pinged, only links in the articles are.
LINKS = [("The peer blog", "http://127.0.0.2:8002/")]

SOCIAL = []

DEFAULT_PAGINATION = 10

# Uncomment following line if you want document-relative URLs when developing
# RELATIVE_URLS = True

PLUGINS = ["pelican_linkback"]

# Where this site receives linkbacks (`linkback serve`, or a service such as webmention.io).
# Every page advertises these; linkback never sends anything there.
RECEIVER = "https://receiver.example.org"
LINKBACK_WEBMENTION_ENDPOINT = RECEIVER + "/webmention"
LINKBACK_PINGBACK_ENDPOINT = RECEIVER + "/xmlrpc"
LINKBACK_TRACKBACK_ENDPOINT = RECEIVER + "/trackback"
# Links to these addresses are never pinged (regular expressions).
LINKBACK_EXCLUDE = [r"/private-"]

# Show the approved linkbacks under each article. They come from `linkback serve`'s
# /api/linkbacks, from webmention.io, or, here, from a jf2 file beside this one.
LINKBACK_DISPLAY = True
LINKBACK_MENTIONS_URL = "linkbacks.jf2"
