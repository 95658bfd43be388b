"""Masked forms of tokens, checksums and token-file texts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.tokens.mask import mask_file_text, mask_identity, mask_token
from gateway.upstream.checksum import new_identity, stored_checksum
from tests.conftest import fake_jwt


def test_mask_token_keeps_four_characters_each_side():
    jwt = fake_jwt()
    assert mask_token(jwt) == f"{jwt[:4]}…{jwt[-4:]}"
    assert mask_token("short") == "…"


def test_mask_identity():
    identity = new_identity()
    masked = mask_identity(identity)
    assert identity.machine_id not in masked and masked.startswith(identity.machine_id[:4])


@given(st.lists(st.sampled_from(["alias", "user_01X", "# note", ""]), min_size=1, max_size=6), st.booleans())
def test_mask_file_text_removes_every_token_and_machine_id(labels, listed):
    lines, secrets = [], []
    for i, label in enumerate(labels):
        jwt = fake_jwt(f"auth0|u{i}")
        secrets.append(jwt)
        line = f"{label}::{jwt}" if label and not label.startswith("#") else jwt
        if listed:
            identity = new_identity()
            secrets += [identity.machine_id, identity.mac_machine_id]
            line += "," + stored_checksum(identity, 1_700_000_000)
        lines.append(line)
    text = "\n".join(["# comment", *lines]) + "\n"
    masked = mask_file_text(text)
    assert masked.count("\n") == text.count("\n") and masked.startswith("# comment\n")
    for secret in secrets:
        assert secret not in masked
