"""Generated requests for a generated policy: the key in one or several places, right and wrong, in its odd forms.

Every value is one a scenario's request table can carry as is: printable ASCII, no `|` or `\\`, no leading or
trailing space (the table trims cells). The harness sends them byte for byte, so a percent-escape reaches the
gateway as written.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from urllib.parse import quote

from hypothesis import strategies as st

from conformance.http import RequestSpec

#: Characters of generated keys and values: URL- and cookie-significant ones included, nothing a cell trims.
KEY_ALPHABET = string.ascii_letters + string.digits + "-._~+/=:%,;&@!*$"
VALUE_ALPHABET = string.ascii_letters + string.digits + "-._~+/=%:@"
#: Headers beside the key: plain ones, one a gateway may hold as a single value when repeated (`accept`), and
#: ones a proxy may treat as its own (`proxy-authorization`, `expect`, `x-forwarded-client-cert`).
NEIGHBOUR_HEADERS = (
    "x-trace",
    "accept-language",
    "x-api-key-2",
    "accept",
    "proxy-authorization",
    "expect",
    "x-forwarded-client-cert",
)
NEIGHBOUR_PARAMS = ("a", "z", "page", "api", "key")
NEIGHBOUR_COOKIES = ("theme", "a", "z", "session-id")


@dataclass(frozen=True)
class Surface:
    """Where a policy world reads keys, which keys are valid, what a request can aim at."""

    host: str
    paths: tuple[str, ...]
    keys: tuple[str, ...]  # valid keys, as a client presents them (raw)
    headers: tuple[str, ...]  # header names some policy reads a key from
    params: tuple[str, ...]  # query parameter names
    cookies: tuple[str, ...]  # cookie names
    identity_headers: tuple[str, ...] = ()  # headers a gateway sets to the client's identity
    prefixes: tuple[str, ...] = ("Bearer ",)  # prefixes a header source expects
    #: Each policy's key sources in its order, as (part, name), with the request paths it guards.
    orders: tuple[tuple[tuple[tuple[str, str], ...], tuple[str, ...]], ...] = ()


def keys(min_size: int = 1, max_size: int = 4) -> st.SearchStrategy[list[str]]:
    """Distinct key values `key-...`: the prefix keeps a generated key (hypothesis also tries words and constants
    it finds in source code) from being ordinary text that redaction would then hide everywhere."""
    key = st.text(alphabet=KEY_ALPHABET, min_size=4, max_size=12).map(lambda body: "key-" + body)
    return st.lists(key, min_size=min_size, max_size=max_size, unique=True)


def _case_variants(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from((name, name.lower(), name.upper(), name.title()))


def _rarely_cased(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from((name, name, name, name.upper()))


def _wrong(key: str) -> str:
    """A key that is not valid but looks like one: the last character changed."""
    last = "x" if key[-1] != "x" else "y"
    return key[:-1] + last


def _percent_encoded(key: str) -> str:
    """Every character but letters, digits and `_.-~` escaped."""
    return quote(key, safe="")


@st.composite
def presented_key(draw: st.DrawFn, surface: Surface, part: str, forms: tuple[str, ...] = ()) -> str:
    """A value put where a key may be read: right, wrong, empty, and the forms each part can take."""
    key = draw(st.sampled_from(surface.keys)) if surface.keys else "no-keys-here"
    if not forms:
        forms = ("right", "right", "right", "wrong", "empty")  # most requests get through: hiding is compared then
        if part == "header":
            forms += ("prefixed", "prefixed-variant", "prefixed-wrong", "prefix-only")
        elif part == "query":
            forms += ("encoded",)
        elif part == "cookie":
            forms += ("quoted",)
    form = draw(st.sampled_from(forms))
    prefix = draw(st.sampled_from(surface.prefixes)) if surface.prefixes else "Bearer "
    if form == "right":
        return key
    if form == "wrong":
        return _wrong(key)
    if form == "empty":
        return ""
    if form == "prefixed":
        return prefix + key
    if form == "prefixed-variant":  # case, doubled space, no space, another scheme
        variant = draw(st.sampled_from(("lower", "upper", "double-space", "no-space", "basic")))
        word = prefix.rstrip(" ") or "Bearer"
        return {
            "lower": word.lower() + " ",
            "upper": word.upper() + " ",
            "double-space": word + "  ",
            "no-space": word,
            "basic": "Basic ",
        }[variant] + key
    if form == "prefixed-wrong":
        return prefix + _wrong(key)
    if form == "prefix-only":
        return prefix.rstrip(" ")
    if form == "encoded":
        return _percent_encoded(key)
    return f'"{key}"'  # quoted cookie


def _values() -> st.SearchStrategy[str]:
    return st.text(alphabet=VALUE_ALPHABET, min_size=0, max_size=6)


@st.composite
def requests_for(draw: st.DrawFn, surface: Surface) -> RequestSpec:
    """One request: keys where the policies look (and where they do not), neighbours, spoofed identities."""
    headers: list[tuple[str, str]] = []
    query: list[tuple[str, str]] = []
    cookies: list[tuple[str, str]] = []
    places = (
        [("header", n) for n in surface.headers]
        + [("query", n) for n in surface.params]
        + [("cookie", n) for n in surface.cookies]
    )
    # The key in none, one or several of the places a policy reads it from (the same place twice: repeats);
    # often a wrong or empty key in one place and the right key in another, where the order of sources decides.
    placed = [(part, name, ()) for part, name in draw(st.lists(st.sampled_from(places), max_size=3))] if places else []
    path = draw(st.sampled_from(surface.paths))
    orders = [order for order in surface.orders if len(order[0]) > 1]
    if orders and draw(st.integers(0, 2)) == 0:
        sources, paths = draw(st.sampled_from(orders))
        first, second = sorted(draw(st.lists(st.integers(0, len(sources) - 1), min_size=2, max_size=2, unique=True)))
        placed = [(*sources[first], ("wrong", "wrong", "empty")), (*sources[second], ("right",))]
        path = draw(st.sampled_from(paths))
    for part, name, forms in placed:
        value = draw(presented_key(surface, part, forms))
        if part == "header":
            headers.append((draw(_case_variants(name)), value))
        elif part == "query":
            query.append((draw(_rarely_cased(name)), value))  # query and cookie names are case-sensitive
        else:
            cookies.append((draw(_rarely_cased(name)), value))
    # Neighbours in any order around the key, and a client claiming an identity itself.
    extras = draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("header"), st.sampled_from(NEIGHBOUR_HEADERS), _values().filter(bool)),
                st.tuples(st.just("query"), st.sampled_from(NEIGHBOUR_PARAMS), _values()),
                st.tuples(st.just("cookie"), st.sampled_from(NEIGHBOUR_COOKIES), _values()),
                st.tuples(
                    st.just("identity"), st.sampled_from(surface.identity_headers or ("x-client-id",)), _values()
                ),
            ),
            max_size=5,
        )
    )
    for part, name, value in extras:
        if part == "query":
            query.insert(draw(st.integers(0, len(query))), (name, value))
        elif part == "cookie":
            cookies.insert(draw(st.integers(0, len(cookies))), (name, value))
        else:  # a header, or a spoofed identity header
            headers.insert(draw(st.integers(0, len(headers))), (name, value or "spoofed"))
    return RequestSpec("GET", path, surface.host, None, tuple(headers), tuple(query), tuple(cookies))
