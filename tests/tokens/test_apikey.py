"""The shapes of Cursor user API keys, and that every place that masks tokens masks keys too."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from gateway.logs import mask
from gateway.tokens.apikey import KEY_IN_TEXT, is_api_key
from gateway.tokens.mask import mask_file_text, mask_token
from gateway.tokens.store import token_kind
from tests.conftest import fake_jwt


def crsr(n: int) -> str:
    return "crsr_" + hashlib.sha256(f"key {n}".encode()).hexdigest()


def old_key(n: int) -> str:
    return "key_" + hashlib.sha256(f"old {n}".encode()).hexdigest()


def test_both_public_key_shapes_are_keys():
    assert is_api_key(crsr(1)) and is_api_key(old_key(1))
    assert is_api_key("crsr_abcdefghijklmnopqrstuvwxyz123456")
    assert is_api_key("crsr_" + "A1_-" * 5)


def test_what_is_not_a_key():
    for text in (
        "crsr_short",  # under 20 characters after the prefix
        "crsr_" + "a" * 257,  # over 256
        "crsr_" + "a" * 19 + "!",
        "CRSR_" + "a" * 30,  # the prefix is lower case
        "sk-" + "a" * 40,
        "key-" + "a" * 40,
        " " + crsr(1),
        fake_jwt(),
        "",
    ):
        assert not is_api_key(text), text


def test_token_kind_by_shape():
    assert token_kind(fake_jwt()) == "session"
    assert token_kind(crsr(2)) == "api_key"
    assert token_kind(old_key(2)) == "api_key"
    assert token_kind("just words") is None


def test_key_in_text_is_not_the_tail_of_a_longer_word():
    assert KEY_IN_TEXT.search("api_key_" + "a" * 30) is None
    assert KEY_IN_TEXT.search("mykey_" + "a" * 30) is None
    [found] = KEY_IN_TEXT.findall(f"the key was {crsr(3)}, rejected")
    assert found == crsr(3)


def test_mask_token_shows_the_prefix_kind_and_last_four():
    assert mask_token(crsr(4)) == f"crsr…{crsr(4)[-4:]}"
    assert mask_token(old_key(4)) == f"key_…{old_key(4)[-4:]}"


@given(st.sampled_from(["", "work::", "a.b-c_d::", "user_01ABC%3A%3A"]), st.integers(0, 50), st.booleans())
def test_file_text_and_logs_never_show_a_key(prefix, n, old):
    key = old_key(n) if old else crsr(n)
    text = f"# keys\n{prefix}{key}\n"
    masked = mask_file_text(text)
    assert key not in masked and key[5:-4] not in masked
    assert masked.startswith("# keys\n") and (prefix.split("%")[0] in masked)
    logged = mask(f"exchange failed for {key}: HTTP 401")
    assert key not in logged and logged.startswith("exchange failed for ***")
