# This file is only used if you use `make publish` or
# explicitly specify it as your config file.

import os
import sys

sys.path.append(os.curdir)
from pelicanconf import *  # noqa: E402, F403

# If your site is available via HTTPS, make sure SITEURL begins with https://
# The demo serves the "deployed" folder on loopback and passes its address in SITEURL.
SITEURL = os.environ.get("SITEURL", "http://127.0.0.3:8003")
RELATIVE_URLS = False

FEED_ALL_ATOM = "feeds/all.atom.xml"
CATEGORY_FEED_ATOM = "feeds/{slug}.atom.xml"

DELETE_OUTPUT_DIRECTORY = True

# Notify the blogs that new articles link to, once each (linkback-sent.json remembers).
LINKBACK_SEND = True

# The demo's peer blog and deployed site run on loopback, which linkback refuses to contact
# unless told otherwise; `make demo` sets ALLOW_PRIVATE=1. A real site leaves this out.
LINKBACK_ALLOW_PRIVATE = os.environ.get("ALLOW_PRIVATE") == "1"
# `make demo` shows what its own `linkback serve` approved: its /api/linkbacks.
LINKBACK_MENTIONS_URL = os.environ.get("MENTIONS_URL", LINKBACK_MENTIONS_URL)  # noqa: F405
