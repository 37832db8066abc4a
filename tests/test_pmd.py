"""permessage-deflate (RFC 7692): negotiation and the compiled inflate/deflate
(catzilla/_core/pmd.pyx over include/cz_pmd.c), with Python's zlib module as
the independent peer."""
import os
import random
import subprocess
import sys
import textwrap
import zlib

import pytest

from catzilla._core.pmd import PerMessageDeflate, negotiate

TAIL = b"\x00\x00\xff\xff"


def params(server_nct=False, client_nct=False, server_bits=15, client_bits=15):
    return {
        "server_no_context_takeover": server_nct,
        "client_no_context_takeover": client_nct,
        "server_max_window_bits": server_bits,
        "client_max_window_bits": client_bits,
    }


def peer_compressor(bits):
    # zlib refuses a raw 8-bit window; 9 never emits a distance > 250.
    return zlib.compressobj(6, zlib.DEFLATED, -max(bits, 9))


def peer_message(comp, data):
    """What a client sends: sync flush, tail stripped (§7.2.1)."""
    out = comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(TAIL)
    return out[:-4]


def receive(pmd, fragments):
    for frag in fragments:
        rc = pmd.feed_bytes(frag)
        if rc:
            return rc, pmd.finish_message()
    msg = pmd.finish_message()
    return (0 if msg is not None else pmd.error), msg


def sample(n, seed=1, alphabet=b"abcdefgh \n"):
    rng = random.Random(seed)
    return bytes(rng.choice(alphabet) for _ in range(n))


# ---- negotiation --------------------------------------------------------

ACCEPTED = [
    ("permessage-deflate", "permessage-deflate", params()),
    ("PerMessage-Deflate", "permessage-deflate", params()),
    ("permessage-deflate; client_max_window_bits", "permessage-deflate", params()),
    ("permessage-deflate; client_no_context_takeover; client_max_window_bits",
     "permessage-deflate; client_no_context_takeover", params(client_nct=True)),
    ("permessage-deflate; server_no_context_takeover",
     "permessage-deflate; server_no_context_takeover", params(server_nct=True)),
    ("permessage-deflate; server_max_window_bits=9",
     "permessage-deflate; server_max_window_bits=9", params(server_bits=9)),
    ("permessage-deflate; server_max_window_bits=8",
     "permessage-deflate; server_max_window_bits=8", params(server_bits=8)),
    ("permessage-deflate;server_max_window_bits=10;client_max_window_bits=12",
     "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12",
     params(server_bits=10, client_bits=12)),
    ('permessage-deflate; server_max_window_bits="10"; client_max_window_bits = "1\\2"',
     "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12",
     params(server_bits=10, client_bits=12)),
    ("permessage-deflate; SERVER_NO_CONTEXT_TAKEOVER; Client_No_Context_Takeover; "
     "Server_Max_Window_Bits=15; client_max_window_bits=8",
     "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
     "server_max_window_bits=15; client_max_window_bits=8",
     params(True, True, 15, 8)),
    # the first acceptable offer wins
    ("x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=11, permessage-deflate",
     "permessage-deflate; server_max_window_bits=11", params(server_bits=11)),
    ("permessage-deflate; foo=1, permessage-deflate; server_max_window_bits=16, "
     "permessage-deflate; client_max_window_bits=9",
     "permessage-deflate; client_max_window_bits=9", params(client_bits=9)),
    ("permessage-deflate; server_no_context_takeover; server_no_context_takeover, permessage-deflate",
     "permessage-deflate", params()),
    (" ,  permessage-deflate ; client_max_window_bits ,", "permessage-deflate", params()),
    # a comma inside a quoted value does not split offers
    ('permessage-deflate; x="a,b", permessage-deflate; server_max_window_bits=12',
     "permessage-deflate; server_max_window_bits=12", params(server_bits=12)),
    (b"permessage-deflate; server_max_window_bits=13",
     "permessage-deflate; server_max_window_bits=13", params(server_bits=13)),
]

DECLINED = [
    "",
    "x-webkit-deflate-frame",
    "permessage-deflate-x",
    "permessage-deflate; foo",                              # unknown parameter
    "permessage-deflate; server_max_window_bits",           # value required
    "permessage-deflate; server_max_window_bits=7",
    "permessage-deflate; server_max_window_bits=16",
    "permessage-deflate; server_max_window_bits=010",       # leading zero
    "permessage-deflate; server_max_window_bits=09",
    "permessage-deflate; server_max_window_bits=1a",
    "permessage-deflate; server_max_window_bits=-9",
    "permessage-deflate; server_max_window_bits=\uff11\uff10",  # non-ASCII digits
    "permessage-deflate; server_max_window_bits=",
    'permessage-deflate; server_max_window_bits="1 0"',     # quoted, not a token
    'permessage-deflate; server_max_window_bits="10',       # unterminated quote
    "permessage-deflate; client_max_window_bits=7",
    "permessage-deflate; client_max_window_bits=abc",
    "permessage-deflate; server_no_context_takeover=1",     # takes no value
    "permessage-deflate; client_no_context_takeover=true",
    "permessage-deflate; client_max_window_bits; client_max_window_bits=10",  # duplicate
    "permessage-deflate; Server_Max_Window_Bits=10; server_max_window_bits=10",
    "permessage-deflate; ; server_no_context_takeover",     # empty parameter
    "permessage-deflate; bad param",
]


@pytest.mark.parametrize("offer,response,expected", ACCEPTED)
def test_negotiate_accepts(offer, response, expected):
    assert negotiate(offer) == (response, expected)


@pytest.mark.parametrize("offer", DECLINED)
def test_negotiate_declines(offer):
    assert negotiate(offer) is None


def test_negotiate_type():
    with pytest.raises(TypeError):
        negotiate(None)


@pytest.mark.parametrize("bad", [
    {"server_max_window_bits": 7}, {"client_max_window_bits": 16}, {"client_max_window_bits": "12"},
])
def test_bad_params(bad):
    with pytest.raises(ValueError):
        PerMessageDeflate({**params(), **bad}, 1 << 20)


def test_bad_size_and_level():
    with pytest.raises(ValueError):
        PerMessageDeflate(params(), -1)
    with pytest.raises(ValueError):
        PerMessageDeflate(params(), 100, level=10)


# ---- inflate: zlib peer -> ours -----------------------------------------

@pytest.mark.parametrize("bits", range(8, 16))
def test_inflate_each_window(bits):
    pmd = PerMessageDeflate(params(client_bits=bits), 1 << 22)
    comp = peer_compressor(bits)
    for i in range(5):   # context takeover: later messages refer to earlier ones
        data = sample(20000, seed=i % 2)
        assert receive(pmd, [peer_message(comp, data)]) == (0, data)
        assert pmd.error == 0


def test_inflate_distance_before_start_is_invalid():
    # Fixed-Huffman block whose first symbol is a match (length 3, distance 1)
    # with nothing decoded yet: "invalid distance too far back".
    pmd = PerMessageDeflate(params(client_bits=8), 1 << 20)
    assert receive(pmd, [bytes([0x02, 0x02, 0x00])]) == (1007, None)
    assert pmd.error == 1007


def test_inflate_context_takeover_needed():
    data = sample(5000)
    comp = peer_compressor(15)
    first, second = peer_message(comp, data), peer_message(comp, data)
    assert len(second) < len(first) // 10     # the second refers to the first
    pmd = PerMessageDeflate(params(), 1 << 20)
    assert receive(pmd, [first]) == (0, data)
    assert receive(pmd, [second]) == (0, data)
    # client_no_context_takeover: the window is reset after each message, so a
    # message relying on the previous one is invalid...
    pmd = PerMessageDeflate(params(client_nct=True), 1 << 20)
    assert receive(pmd, [first]) == (0, data)
    assert receive(pmd, [second]) == (1007, None)
    # ...while a client that resets its compressor too is understood.
    pmd = PerMessageDeflate(params(client_nct=True), 1 << 20)
    for i in range(3):
        data = sample(3000, seed=i)
        assert receive(pmd, [peer_message(peer_compressor(15), data)]) == (0, data)


def test_inflate_every_fragmentation():
    data = sample(3000)
    comp = peer_compressor(15)
    warmup = peer_message(comp, sample(3000, seed=7))
    msg = peer_message(comp, data)
    assert len(msg) > 50
    for cut in range(len(msg) + 1):
        pmd = PerMessageDeflate(params(), 1 << 20)
        assert receive(pmd, [warmup]) == (0, sample(3000, seed=7))
        assert receive(pmd, [msg[:cut], msg[cut:]]) == (0, data), cut
    pmd = PerMessageDeflate(params(), 1 << 20)
    receive(pmd, [warmup])
    assert receive(pmd, [msg[i:i + 1] for i in range(len(msg))]) == (0, data)
    # and three-way cuts, with empty fragments in between
    for a in range(0, len(msg), 7):
        b = (a + len(msg)) // 2
        pmd = PerMessageDeflate(params(), 1 << 20)
        receive(pmd, [warmup])
        assert receive(pmd, [msg[:a], b"", msg[a:b], msg[b:], b""]) == (0, data)


def test_inflate_after_final_block():
    # §7.2.3.3: a sender may end a message with a BFINAL block; the next
    # message can still refer to the window.
    first = sample(4000, seed=3)
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    msg1 = comp.compress(first) + comp.flush(zlib.Z_FINISH)
    comp2 = zlib.compressobj(6, zlib.DEFLATED, -15, zdict=first)
    msg2 = peer_message(comp2, first)
    assert len(msg2) < 100
    pmd = PerMessageDeflate(params(), 1 << 20)
    assert receive(pmd, [msg1]) == (0, first)
    assert receive(pmd, [msg2]) == (0, first)


def test_inflate_must_end_on_block_boundary():
    # The sender did not flush: with the tail appended, the data ends inside
    # a stored block. Reported, not left to garble the next message.
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    unflushed = comp.compress(sample(3000)) + comp.flush(zlib.Z_FULL_FLUSH)[:-4] + b"\x00"
    pmd = PerMessageDeflate(params(), 1 << 20)
    assert receive(pmd, [unflushed]) == (1007, None)
    # A sender that did not strip the tail: the appended one opens a stored
    # block that never ends.
    pmd = PerMessageDeflate(params(), 1 << 20)
    comp = peer_compressor(15)
    assert receive(pmd, [peer_message(comp, b"abc") + TAIL]) == (1007, None)


def test_inflate_size_limit_exact():
    data = sample(10000)
    for limit, expected in ((10000, (0, data)), (9999, (1009, None)), (0, (1009, None))):
        pmd = PerMessageDeflate(params(), limit)
        assert receive(pmd, [peer_message(peer_compressor(15), data)]) == expected
        assert pmd.error == expected[0]
    pmd = PerMessageDeflate(params(), 0)
    assert receive(pmd, [peer_message(peer_compressor(15), b"")]) == (0, b"")


def test_inflate_too_big_then_next_message():
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    big = peer_message(comp, b"x" * 100000)
    pmd = PerMessageDeflate(params(client_nct=True), 50000)
    assert pmd.feed_bytes(big) == 1009
    assert pmd.feed_bytes(b"\x00") == 1009        # sticky until finish
    assert pmd.finish_message() is None and pmd.error == 1009
    small = peer_message(peer_compressor(15), b"ok")
    assert receive(pmd, [small]) == (0, b"ok")
    assert pmd.error == 0


def test_decompression_bomb_bounded():
    # 1 GiB of zeros: the first MiB compressed, then the identical compressed
    # form of every following MiB (the window is all zeros by then).
    script = textwrap.dedent(r"""
        import resource, zlib
        from catzilla._core.pmd import PerMessageDeflate
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        mib = bytes(1 << 20)
        blocks = [comp.compress(mib) + comp.flush(zlib.Z_SYNC_FLUSH) for _ in range(3)]
        assert blocks[1] == blocks[2]
        small = blocks[0] + blocks[1] * 3           # check the construction with zlib
        assert zlib.decompressobj(-15).decompress(small) == bytes(4 << 20)
        bomb = blocks[0] + blocks[1] * 1023          # 1 GiB once inflated
        print("compressed", len(bomb))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        pmd = PerMessageDeflate({"client_max_window_bits": 15}, 1 << 20)
        rcs = [pmd.feed_bytes(bomb[i:i + 256]) for i in range(0, len(bomb), 256)]
        assert rcs[0] == 0 and rcs[-1] == 1009, (rcs[0], rcs[-1])
        assert pmd.finish_message() is None and pmd.error == 1009
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print("grew_kib", after - before)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    grew = int(out.stdout.split("grew_kib")[1])
    assert grew < 16 * 1024, out.stdout    # 1 MiB limit: nowhere near 1 GiB


@pytest.mark.parametrize("garbage", [
    b"\xff\xff\xff\xff",          # reserved block type 11
    b"\x01\x05\x00\x00\x00",      # stored block: LEN does not match ~NLEN
    b"\x02\xff\xff\xff\xff\xff",  # fixed Huffman: invalid code / distance
])
def test_inflate_corrupt_is_1007(garbage):
    pmd = PerMessageDeflate(params(), 1 << 20)
    assert receive(pmd, [garbage]) == (1007, None)
    assert pmd.error == 1007


def test_inflate_corrupt_in_tail_is_1007():
    # Valid so far but ends inside a stored block: the tail's bytes become
    # its header, LEN 0xff00 vs NLEN... does not match.
    pmd = PerMessageDeflate(params(), 1 << 20)
    assert pmd.feed_bytes(b"\x00") == 0
    assert pmd.feed_bytes(b"\x05\x00") == 0         # LEN=5 starts, NLEN comes from the tail
    assert pmd.finish_message() is None and pmd.error == 1007


def test_inflate_empty_messages():
    pmd = PerMessageDeflate(params(), 1 << 20)
    assert receive(pmd, []) == (0, b"")                 # no payload at all
    assert receive(pmd, [b""]) == (0, b"")
    assert receive(pmd, [b"\x00"]) == (0, b"")          # §7.2.3.6
    comp = peer_compressor(15)
    assert receive(pmd, [peer_message(comp, b"")]) == (0, b"")
    assert receive(pmd, [peer_message(comp, b"abc")]) == (0, b"abc")
    assert receive(pmd, [peer_message(comp, b"")]) == (0, b"")


# ---- deflate: ours -> zlib peer -----------------------------------------

def peer_inflate(decomp, payload):
    return decomp.decompress(payload + TAIL)


@pytest.mark.parametrize("bits", range(8, 16))
def test_deflate_each_window(bits):
    # zlib's inflater with exactly the agreed window (8 included) must
    # understand every message, context carried over.
    pmd = PerMessageDeflate(params(server_bits=bits), 1 << 20)
    decomp = zlib.decompressobj(-bits)
    for i in range(5):
        data = sample(30000, seed=i % 2) + os.urandom(300) * 4
        assert peer_inflate(decomp, pmd.compress_message(data)) == data


def test_deflate_context_takeover():
    data = sample(5000)
    pmd = PerMessageDeflate(params(), 1 << 20)
    first, second = pmd.compress_message(data), pmd.compress_message(data)
    assert len(second) < len(first) // 10
    decomp = zlib.decompressobj(-15)
    assert peer_inflate(decomp, first) == data
    assert peer_inflate(decomp, second) == data


def test_deflate_no_context_takeover():
    pmd = PerMessageDeflate(params(server_nct=True), 1 << 20)
    data = sample(5000)
    msgs = [pmd.compress_message(data) for _ in range(3)]
    assert msgs[0] == msgs[1] == msgs[2]
    for m in msgs:   # each decodes alone, with a fresh inflater
        assert peer_inflate(zlib.decompressobj(-15), m) == data


def test_deflate_empty_messages():
    pmd = PerMessageDeflate(params(), 1 << 20)
    decomp = zlib.decompressobj(-15)
    for data in (b"", b"", b"hello", b"", b"hello", b""):
        payload = pmd.compress_message(data)
        assert payload and peer_inflate(decomp, payload) == data
    assert PerMessageDeflate(params(server_nct=True), 10).compress_message(b"") == b"\x00"


def test_deflate_levels_and_incompressible():
    data = os.urandom(200000)
    for level in (-1, 0, 1, 9):
        pmd = PerMessageDeflate(params(), 1 << 20, level)
        assert peer_inflate(zlib.decompressobj(-15), pmd.compress_message(data)) == data


def test_client_side_round_trip():
    # client=True takes the other side of the same agreement: ours <-> ours.
    agreed = negotiate("permessage-deflate; client_max_window_bits=9; server_max_window_bits=10; "
                       "client_no_context_takeover")[1]
    server = PerMessageDeflate(agreed, 1 << 20)
    client = PerMessageDeflate(agreed, 1 << 20, client=True)
    for i in range(4):
        data = sample(8000, seed=i)
        assert receive(server, [client.compress_message(data)]) == (0, data)
        assert receive(client, [server.compress_message(data)]) == (0, data)


def test_buffer_types():
    pmd = PerMessageDeflate(params(), 1 << 20)
    payload = pmd.compress_message(bytearray(b"abc"))
    assert receive(pmd, [memoryview(payload)]) == (0, b"abc")
