"""What both halves of linkback use: the settings table (:mod:`.settings`: ``Settings``,
``ConfigError``, ``row``, ``table``), the guarded HTTP client (:mod:`.http`: ``Client``,
``FetchError``), what became of a request (:mod:`.outcome`: ``Verdict``, ``Outcome``), which
URLs name one page (:mod:`.urls`), what is added to rendered pages (:mod:`.pages`, found by
the tokenizer of :mod:`.markup`), atomic file replacement (:mod:`.files`) and server text
made safe to print (:mod:`.terminal`).

Nothing is imported here: a build with nothing to send must not load the HTTP client.
"""
