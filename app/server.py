"""What the app asks of the web server it runs in: long links open, or are refused in words.

Streamlit 1.67 serves the app with uvicorn. With h11, uvicorn's pure-Python HTTP parser, a
request whose address arrives in pieces over 16 KB is refused with HTTP 400, depending on how
the network cuts it; with httptools installed (a dependency of this project) uvicorn reads any
address up to 64 KB, whole or in pieces. An address longer than that can only be a pasted or
hand-made link (the app's own links leave out sentences over 1,500 characters): uvicorn would
answer it with a bare "Invalid HTTP request received." and hold all of it in memory however
long it grows. ``refuse_long_links`` cuts such an address off at 64 KB and answers with a page
that says what happened and what to do.
"""

from __future__ import annotations

MAX_LINK_BYTES = 65_535  # the longest address httptools.parse_url reads: 64 KB
TOO_LONG = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>This link is too long · Encoder Explorer</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 4em auto;
padding: 0 1em; line-height: 1.5; color: #1f2937">
<h1>This link is too long to open</h1>
<p>Its address is longer than 64 KB, more than the server reads. Links made with
<b>Share this view</b> stay short: they leave out sentences longer than 1,500 characters.
A link this long was probably pasted together with a long text, or cut and joined by hand.</p>
<p><a href="/">Open Encoder Explorer</a> and paste the text into the sentence box instead.</p>
</body></html>
"""


def refuse_long_links() -> bool:
    """Once per server process: addresses over 64 KB get the page above (HTTP 414) and are
    cut off as they arrive. Returns whether the guard is in place (False without httptools,
    where uvicorn's h11 parser refuses requests over 16 KB itself)."""
    try:
        from uvicorn.protocols.http import httptools_impl
    except ImportError:
        return False
    protocol = httptools_impl.HttpToolsProtocol
    if getattr(protocol, "refuses_long_links", False):
        return True
    read_url, bare_400 = protocol.on_url, protocol.send_400_response

    def on_url(self, url: bytes) -> None:  # the parser hands the address over in pieces
        if len(self.url) + len(url) > MAX_LINK_BYTES:
            self.link_too_long = True
            raise ValueError("the address is longer than 64 KB")  # stops the parser
        read_url(self, url)

    def send_400_response(self, msg: str) -> None:
        if not getattr(self, "link_too_long", False):
            bare_400(self, msg)
            return
        body = TOO_LONG.encode()
        head = [b"HTTP/1.1 414 URI Too Long\r\n"]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: text/html; charset=utf-8\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()

    protocol.on_url = on_url
    protocol.send_400_response = send_400_response
    protocol.refuses_long_links = True
    return True
