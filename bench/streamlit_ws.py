"""A small client of Streamlit's websocket protocol: one simulated student, no browser.

What Streamlit 1.67's frontend does, done by hand (web/server/starlette/starlette_websocket.py
and runtime/app_session.py are the server's side):

1. GET the page (through a load balancer this sets its affinity cookie, HAProxy's ``SRV``),
   then ``/_stcore/health`` as the frontend does (it sets ``_streamlit_xsrf``). Each session
   keeps its own cookie jar.
2. Open ``ws(s)://host/_stcore/stream`` with those cookies, an ``Origin`` of the host, and the
   subprotocol list ``streamlit, <xsrf token>[, <previous session id>]`` (the server repurposes
   the list to carry the XSRF token and, on a reconnect, the session it had).
3. Send a ``BackMsg.rerun_script`` (a ``ClientState``: the link's query string, the page by
   ``page_name`` = its url path on the first run and by ``page_script_hash`` after, widget
   states) and read ``ForwardMsg``s until ``script_finished`` says FINISHED_SUCCESSFULLY. Runs
   that end early for a rerun (``st.rerun``, a page switch) are followed by another run; a
   fragment's own reruns are not the run we wait for.

While reading, the client learns what the frontend would: the pages (``navigation.app_pages``,
url path -> page script hash), the link (``page_info_changed.query_string``), and the widgets
(each element's ``id``; the sidebar's sentences box has user key ``text``, so its id ends in
``-text``). A submit sends every widget value it can state exactly (text boxes, checkboxes,
number inputs) with the sentence box's string_value set to the new text; widgets it does not
echo (sliders, pickers) keep their values on the server, which holds the last value of every
widget a rerun does not mention (SessionState._old_state), so the run sees the same page.

A reader thread (a greenlet under Locust's gevent) receives every frame, so the websocket's
pings are answered while a student waits between submits, as a browser's are. The client does
not report cached message hashes, so the server sends every message whole (a browser gets
references to messages it already holds: fewer bytes, the same server work).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
import websocket
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FINISHED = ForwardMsg.ScriptFinishedStatus
# (name, url path): the pages bench/locustfile.py's students open (no locust import here: it
# monkey-patches the whole process for gevent)
PAGE_MIX = [
    ("Encode", ""),
    ("Attention", "attention"),
    ("Positions", "positions"),
    ("Padding", "padding"),
    ("Lessons", "lessons"),
]
TEXT_KEY = "text"  # the sidebar's sentences box (app/state.py TEXT); bench/blank_app.py's too
_CLOSED = object()  # the reader's last item: the socket is gone


class ProtocolError(Exception):
    """The session broke: closed socket, timeout, an exception element, a page not found."""


@dataclass
class Run:
    """One script run as the client saw it."""

    seconds: float  # from sending the rerun to script_finished
    exceptions: list[str] = field(default_factory=list)  # exception elements' messages
    messages: int = 0  # ForwardMsgs received


class StreamlitSession:
    """One browser tab's worth of Streamlit: a cookie jar, a websocket, a script session."""

    def __init__(self, base_url: str, page: str = "", query: str = "", timeout: float = 120):
        self.base_url = base_url.rstrip("/")
        self.page = page.strip("/")  # url path of the page, "" for the default page
        self.query = query.lstrip("?")  # the link's query string, kept as the app changes it
        self.timeout = timeout
        self.http = requests.Session()
        self.replica = ""  # X-Replica of the page's response, else the SRV cookie
        self.session_id = ""
        self.pages: dict[str, str] = {}  # url path -> page_script_hash
        self.page_hash = ""
        self.widgets: dict[str, WidgetState] = {}  # widget id -> WidgetState to echo
        self.text_id = ""
        self._ws: websocket.WebSocket | None = None
        self._inbox: queue.Queue = queue.Queue()
        self._alive = threading.Event()  # the current socket's reader still reads
        self.dropped = threading.Event()  # set when the socket ends without close() asking

    # ---- connection ----------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._ws is not None and self._alive.is_set()

    def open(self) -> Run:
        """GET the page, open the websocket, run the page once; returns that first run."""
        self.close()
        url = f"{self.base_url}/{self.page}" + (f"?{self.query}" if self.query else "")
        try:
            r = self.http.get(url, timeout=self.timeout)
        except requests.RequestException as err:
            raise ProtocolError(f"GET {url}: {type(err).__name__}") from None
        if r.status_code != 200:
            raise ProtocolError(f"GET {url}: HTTP {r.status_code}")
        self.replica = r.headers.get("X-Replica") or self.http.cookies.get("SRV") or ""
        try:  # the frontend pings health before it connects; that response sets the XSRF cookie
            self.http.get(f"{self.base_url}/_stcore/health", timeout=self.timeout)
        except requests.RequestException as err:
            raise ProtocolError(f"GET /_stcore/health: {type(err).__name__}") from None
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        protocols = ["streamlit", self.http.cookies.get("_streamlit_xsrf") or ""]
        if self.session_id:
            protocols.append(self.session_id)  # the frontend names its old session on reconnect
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
        try:
            ws = websocket.create_connection(
                f"{scheme}://{parts.netloc}{parts.path}/_stcore/stream",
                subprotocols=protocols,
                cookie=cookies or None,
                origin=f"{parts.scheme}://{parts.netloc}",
                timeout=self.timeout,
            )
        except (OSError, websocket.WebSocketException) as err:
            raise ProtocolError(f"websocket: {type(err).__name__}: {err}") from None
        self._ws, self._inbox, self._alive = ws, queue.Queue(), threading.Event()
        self._alive.set()
        reader = threading.Thread(target=self._read, args=(ws, self._inbox, self._alive))
        reader.daemon = True
        reader.start()
        return self._rerun(first=True)

    def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):  # closing a dead socket must not raise
                ws.close(timeout=1)

    def _read(self, ws: websocket.WebSocket, inbox: queue.Queue, alive: threading.Event) -> None:
        ws.settimeout(None)  # block in recv; pings are answered inside it
        try:
            while True:
                opcode, data = ws.recv_data(control_frame=False)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    break
                if opcode == websocket.ABNF.OPCODE_BINARY:
                    msg = ForwardMsg()
                    msg.ParseFromString(data)
                    inbox.put(msg)
        except Exception:  # any end of the socket ends the session
            pass
        alive.clear()
        inbox.put(_CLOSED)
        if self._ws is ws:  # not our own close(): the server or the network ended it
            self.dropped.set()

    # ---- runs ----------------------------------------------------------------------------
    def submit(self, text: str) -> Run:
        """A fresh sentence: rerun with every widget's value and the sentence box set."""
        if not self.text_id:
            raise ProtocolError(f"no text box with key {TEXT_KEY!r} on page {self.page!r}")
        state = self.widgets[self.text_id]
        state.string_value = text
        return self._rerun(first=False)

    def _rerun(self, first: bool) -> Run:
        if not self.connected:
            raise ProtocolError("websocket closed")
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query
        if first or not self.page_hash:
            cs.page_name = self.page
        else:
            cs.page_script_hash = self.page_hash
        cs.context_info.url = f"{self.base_url}/{self.page}"
        cs.context_info.timezone = "UTC"
        cs.context_info.locale = "en-US"
        if not first:
            cs.widget_states.widgets.extend(self.widgets.values())
        start = time.perf_counter()
        try:
            self._ws.send_binary(msg.SerializeToString())
        except (OSError, websocket.WebSocketException) as err:
            raise ProtocolError(f"send: {type(err).__name__}") from None
        run = Run(seconds=0.0)
        deadline = start + self.timeout
        while True:
            try:
                item = self._inbox.get(timeout=max(0.01, deadline - time.perf_counter()))
            except queue.Empty:
                raise ProtocolError(f"no script_finished in {self.timeout:.0f} s") from None
            if item is _CLOSED:
                self._ws = None
                raise ProtocolError("websocket closed during the run")
            run.messages += 1
            if self._take(item, run):
                run.seconds = time.perf_counter() - start
                break
        if run.exceptions:
            raise ProtocolError(f"exception element: {run.exceptions[0][:200]}")
        return run

    def _take(self, msg: ForwardMsg, run: Run) -> bool:
        """Learn from one ForwardMsg; True when it ends the run we wait for."""
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.session_id = msg.new_session.initialize.session_id or self.session_id
            self.page_hash = msg.new_session.page_script_hash or self.page_hash
        elif kind == "navigation":
            nav = msg.navigation
            self.pages = {p.url_pathname: p.page_script_hash for p in nav.app_pages}
            self.page_hash = nav.page_script_hash or self.page_hash
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "page_not_found":
            run.exceptions.append(f"page not found: {msg.page_not_found.page_name}")
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self._element(msg.delta.new_element, run)
        elif kind == "script_finished":
            status = msg.script_finished
            if status == FINISHED.FINISHED_WITH_COMPILE_ERROR:
                run.exceptions.append("compile error")
                return True
            return status == FINISHED.FINISHED_SUCCESSFULLY
        return False

    def _element(self, element, run: Run) -> None:
        kind = element.WhichOneof("type")
        if kind == "exception":
            ex = element.exception
            run.exceptions.append(f"{ex.type}: {ex.message}")
            return
        if kind not in ("text_area", "text_input", "checkbox", "number_input"):
            return
        widget = getattr(element, kind)
        if widget.form_id:
            return  # a form's widgets reach the server with the form's submit only
        known = self.widgets.get(widget.id)
        state = known or WidgetState(id=widget.id)
        if kind in ("text_area", "text_input"):
            if known is None or widget.set_value:
                value = widget.value if widget.HasField("value") else widget.default
                state.string_value = value
            if widget.id.endswith(f"-{TEXT_KEY}"):
                self.text_id = widget.id
        elif kind == "checkbox":
            if known is None or widget.set_value:
                state.bool_value = widget.value if widget.set_value else widget.default
        elif known is None or widget.set_value:  # number_input
            is_int = widget.data_type == widget.INT
            if widget.set_value and widget.HasField("value"):
                number = widget.value
            elif widget.HasField("default"):
                number = widget.default
            else:
                return  # an empty number box: the frontend sends nothing either
            if is_int:
                state.int_value = int(number)
            else:
                state.double_value = float(number)
        self.widgets[widget.id] = state
