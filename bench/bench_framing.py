"""Throughput of the hot path without sockets: Connect frames in, OpenAI SSE bytes out.

Measures (1) decoding text frames (mixed gzip/plain, as the upstream sends) and rendering each as
an SSE chunk, in MB/s of upstream payload; (2) that one-byte feeds stay linear: the time for a
4 MiB frame fed one byte at a time over the time for a 1 MiB frame (4.0 is linear).

    .venv/bin/python bench/bench_framing.py
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from loadlib import write_section  # noqa: E402

from gateway.chat.to_openai import ChunkWriter  # noqa: E402
from gateway.sse import encode_event  # noqa: E402
from gateway.upstream.chatservice.decode import ResponseDecoder  # noqa: E402
from gateway.upstream.framing import FrameDecoder, encode_frame  # noqa: E402
from gateway.upstream.pb import cursor_pb2 as pb  # noqa: E402


def upstream_bytes(frames: int, text_size: int) -> tuple[bytes, int]:
    rng = random.Random(0)
    words = ["alpha ", "beta ", "gamma ", "delta ", "ünï ", "✓ ", "code() "]
    out = bytearray()
    payload_bytes = 0
    for _ in range(frames):
        text = "".join(rng.choice(words) for _ in range(text_size // 6))
        message = pb.StreamUnifiedChatResponseWithTools(
            stream_unified_chat_response=pb.StreamUnifiedChatResponse(text=text)
        ).SerializeToString()
        payload_bytes += len(message)
        out += encode_frame(message, compress=rng.random() < 0.6)
    out += encode_frame(b"{}", end_stream=True)
    return bytes(out), payload_bytes


def decode_and_render(data: bytes, read_size: int) -> int:
    frames = FrameDecoder()
    decoder = ResponseDecoder()
    writer = ChunkWriter(id="chatcmpl-bench", created=0, model="m", thinking_output="hidden")
    written = 0
    for start in range(0, len(data), read_size):
        for frame in frames.feed(data[start : start + read_size]):
            if frame.is_end_stream:
                continue
            for event in decoder.message(frame.payload):
                for chunk in writer.render(event):
                    written += len(encode_event(chunk))
    return written


def one_byte_feed_seconds(size: int) -> float:
    data = encode_frame(b"x" * size)
    decoder = FrameDecoder()
    started = time.perf_counter()
    for i in range(len(data)):
        decoder.feed(data[i : i + 1])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", help="also write the figures as the `framing` section of this Markdown file")
    args = parser.parse_args()
    data, payload = upstream_bytes(frames=20_000, text_size=60)
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        decode_and_render(data, read_size=16 * 1024)
        best = max(best, payload / (time.perf_counter() - started) / 1e6)
    small = one_byte_feed_seconds(1024 * 1024)
    large = one_byte_feed_seconds(4 * 1024 * 1024)
    lines = [
        f"- decode + SSE render: {best:.1f} MB/s of upstream payload (20,000 frames of ~60 characters, 60 % gzip)",
        f"- one-byte feeds: 1 MiB {small:.2f} s, 4 MiB {large:.2f} s, ratio {large / small:.2f} (4.0 = linear)",
    ]
    print("\n".join(lines))
    if args.out:
        section = [
            "## Decode and render without sockets",
            "",
            "Command: `.venv/bin/python bench/bench_framing.py`.",
            "",
            *lines,
        ]
        write_section(Path(args.out), "framing", "\n".join(section) + "\n")


if __name__ == "__main__":
    main()
