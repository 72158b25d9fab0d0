"""Golden-byte regression test of the frozen wire format v2 (:mod:`sparsyfed.wire.codec`).

A fixed, seeded set of tensors (every wire dtype, 0-d to 4-d, densities from
0 to 1, special float bit patterns, with and without a reference) is encoded
with every eligible codec, with ``auto`` and with :func:`encode_array_joint`,
in every applicable value format, and the SHA-256 of each payload is compared
with a digest recorded from the implementation that defined the format.

Hard-coding the digests is deliberate: the byte format is frozen (a receiver
running another build must decode today's payloads and produce the same
bytes), so any change to a single bit of any payload is a format break, not a
test to update. The table may only be regenerated together with a new format
version. The test also checks that every payload decodes back to its input
(bit for bit for raw values), that lossy payloads are canonical (their
decoded tensor re-encodes to the same bytes) and that
:func:`encoded_nbytes` and :func:`payload_codec` agree with the payload.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import pytest

from sparsyfed.wire.codec import (
    STANDALONE_CODECS,
    decode_array,
    encode_array,
    encode_array_joint,
    encoded_nbytes,
    payload_codec,
)


class Case(NamedTuple):
    """One golden tensor: ``density`` of its elements are non-zero (seeded)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    density: float
    specials: bool = False


CASES: tuple[Case, ...] = (
    Case("f32-0d", "<f4", (), 1.0),
    Case("f32-0d-zero", "<f4", (), 0.0),
    Case("f32-1d", "<f4", (37,), 0.5),
    Case("f32-2d-sparse", "<f4", (16, 24), 0.05),
    Case("f32-3d-half", "<f4", (4, 6, 10), 0.5),
    Case("f32-4d-sparse", "<f4", (8, 4, 3, 3), 0.03),
    Case("f32-2d-zero", "<f4", (64, 40), 0.0),
    Case("f32-2d-full", "<f4", (40, 64), 1.0),
    Case("f32-2d-empty", "<f4", (0, 5), 0.5),
    Case("f32-2d-specials", "<f4", (12, 12), 0.3, specials=True),
    Case("f32-big-sparse", "<f4", (200, 300), 0.01),
    Case("f32-big-dense", "<f4", (100, 200), 0.93),
    Case("f32-be", ">f4", (16, 24), 0.05),
    Case("f64-2d", "<f8", (32, 48), 0.05),
    Case("f64-3d", "<f8", (5, 7, 9), 0.6),
    Case("f16-2d", "<f2", (30, 50), 0.04),
    Case("f16-4d-full", "<f2", (2, 3, 4, 5), 1.0),
    Case("i64-2d", "<i8", (20, 20), 0.5),
    Case("i32-1d", "<i4", (100,), 0.03),
    Case("u8-3d", "u1", (6, 8, 10), 0.5),
    Case("bool-2d", "?", (33, 17), 0.05),
    Case("bool-1d-full", "?", (64,), 1.0),
)


def make_tensor(case: Case, seed: int) -> np.ndarray:
    """The seeded tensor of ``case`` (independent of the test helpers, so frozen)."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(case.dtype)
    n = math.prod(case.shape)
    keep = rng.random(n) < case.density
    if dt.kind == "b":
        vals = np.ones(n, dtype=bool)
    elif dt.kind == "f":
        vals = rng.standard_normal(n) * 0.1
    else:
        hi = 256 if dt.itemsize == 1 else 1000
        vals = rng.integers(1, hi, size=n) * np.where(rng.random(n) < 0.5, -1, 1)
        if dt.kind == "u":
            vals = np.abs(vals)
    out = np.zeros(n, dtype=dt)
    out[keep] = vals[keep].astype(dt)
    if case.specials and n >= 4:
        out[1] = -0.0
        out[5] = np.nan
        out[7] = np.inf
        out[11] = -np.inf
    return out.reshape(case.shape)


def make_reference(x: np.ndarray, seed: int) -> np.ndarray:
    """A float32 reference whose support contains the support of ``x`` plus extra positions."""
    rng = np.random.default_rng(seed)
    flat = np.ascontiguousarray(x).reshape(-1)
    occupied = flat.view(np.uint8).reshape(flat.size, flat.itemsize).any(axis=1)
    occupied |= rng.random(flat.size) < 0.2
    return np.where(occupied, np.float32(1.5), np.float32(0.0)).reshape(x.shape)


class Encoded(NamedTuple):
    """One golden payload and what it must decode to."""

    key: str
    payload: bytes
    x: np.ndarray
    codec: str | None  # the forced codec, or None for auto / joint
    values: str
    reference: np.ndarray | None
    joint_coded: np.ndarray | None
    extra: bytes = b""  # hashed after the payload: the joint ranks

    def digest(self) -> str:
        """SHA-256 of the payload (joint: followed by ``b"|"`` and its ranks as ``<i8``)."""
        return hashlib.sha256(self.payload + self.extra).hexdigest()


def _rng(seed: int, values: str) -> np.random.Generator | None:
    return np.random.default_rng(10_000 + seed) if values == "int8" else None


def golden_payloads() -> Iterator[Encoded]:
    """Every golden payload, in a fixed order."""
    for seed, case in enumerate(CASES):
        x = make_tensor(case, seed)
        ref = make_reference(x, 1000 + seed)
        formats = ["raw"]
        if x.dtype.kind == "f" and not case.specials:
            formats += ["fp16", "int8"]
        for values in formats:
            base = f"{case.name}/{values}"
            for codec in STANDALONE_CODECS:
                if codec == "csr" and x.ndim == 0:
                    continue
                reference = ref if codec == "support" else None
                payload = encode_array(
                    x, codec, values=values, reference=reference, rng=_rng(seed, values)
                )
                yield Encoded(f"{base}/{codec}", payload, x, codec, values, reference, None)
            for suffix, min_numel, reference in (
                ("auto", 1024, None),
                ("auto0", 0, None),
                ("auto0-ref", 0, ref),
            ):
                payload = encode_array(
                    x, "auto", min_numel, values=values, reference=reference, rng=_rng(seed, values)
                )
                yield Encoded(f"{base}/{suffix}", payload, x, None, values, reference, None)
            for suffix, min_numel in (("joint", 1024), ("joint0", 0)):
                payload, pos = encode_array_joint(
                    x, min_numel, values=values, reference=ref, rng=_rng(seed, values)
                )
                coded, extra = None, b""
                if pos is not None:
                    coded = pos.coded
                    ranks = np.asarray([pos.domain, pos.nnz, *pos.coded.tolist()], dtype="<i8")
                    extra = b"|" + ranks.tobytes()
                yield Encoded(f"{base}/{suffix}", payload, x, None, values, ref, coded, extra)


def digest_table() -> dict[str, str]:
    """``key -> SHA-256`` of every golden payload."""
    return {e.key: e.digest() for e in golden_payloads()}


GOLDEN = """
f32-0d/raw/dense 59f0916aed97c94888293ff5f2f9ded10eae6dbe8f286942fa0014503c9026cf
f32-0d/raw/bitmap b59faa3627eeb3cee09850ce61d932e4b07ec50a73fb428636668bc9b2f1df49
f32-0d/raw/coo 6e2ec9bb625224d98816dfc3ca775b3ebf9a0db0a1cf8efce134e266c3ce99aa
f32-0d/raw/ef 59dfbbc7484fb8f2a435ea78ccb8bead542b2d2edd02e846b437572f0973b198
f32-0d/raw/golomb 5d258b087657b76a35cffab72fdfdf121dfbe09d5aa92148389bddd1e07a9b6e
f32-0d/raw/support c068f7d917d3ee96dc6cdfef6324f67ec0b04650748120cb8df30571e680a4c5
f32-0d/raw/auto 59f0916aed97c94888293ff5f2f9ded10eae6dbe8f286942fa0014503c9026cf
f32-0d/raw/auto0 59f0916aed97c94888293ff5f2f9ded10eae6dbe8f286942fa0014503c9026cf
f32-0d/raw/auto0-ref 59f0916aed97c94888293ff5f2f9ded10eae6dbe8f286942fa0014503c9026cf
f32-0d/raw/joint 59f0916aed97c94888293ff5f2f9ded10eae6dbe8f286942fa0014503c9026cf
f32-0d/raw/joint0 59f0916aed97c94888293ff5f2f9ded10eae6dbe8f286942fa0014503c9026cf
f32-0d/fp16/dense 493fb3d672dd058b04f1bfe456e44d65903effab2a2895d9c16606cd2b863dcc
f32-0d/fp16/bitmap 4b42c508b4937f4f6446f242d0682447a064d9d2d68087bda62fc8a21a721799
f32-0d/fp16/coo dbef747dfc5b57111f4a2f3b56b19ef1a70bc734ba9c9f751bdc8aadea809d62
f32-0d/fp16/ef 54731c3081ce9aea5bf7708b59b35a353ca1ac1cefc71297f7ca75ddab002971
f32-0d/fp16/golomb e6128c8177e6741cdd6130034a53294f06ffa5d762e7d79fefd098027a1b5f2a
f32-0d/fp16/support d9b171892fbbcdd134611350e82ee8543a3e6db84a598d6cb76e43773601c608
f32-0d/fp16/auto 493fb3d672dd058b04f1bfe456e44d65903effab2a2895d9c16606cd2b863dcc
f32-0d/fp16/auto0 493fb3d672dd058b04f1bfe456e44d65903effab2a2895d9c16606cd2b863dcc
f32-0d/fp16/auto0-ref 493fb3d672dd058b04f1bfe456e44d65903effab2a2895d9c16606cd2b863dcc
f32-0d/fp16/joint 493fb3d672dd058b04f1bfe456e44d65903effab2a2895d9c16606cd2b863dcc
f32-0d/fp16/joint0 493fb3d672dd058b04f1bfe456e44d65903effab2a2895d9c16606cd2b863dcc
f32-0d/int8/dense 175f90c7243c0769384ca98c3623b0af3d7114bb9f894fb007c10bc0af1a2483
f32-0d/int8/bitmap f975662f4429b538d38804d37c60806a390bb3f13f8d25e67a58c11f669f9fae
f32-0d/int8/coo bba0d5404764f8ac14948f40c0b9be6d7257358c080fc32d0f752e540514b002
f32-0d/int8/ef f67e748e7c722f5226a25d1063828c739ada7fa1ff554be2073544f89f606093
f32-0d/int8/golomb 5015bd474d0cd71357415f868ef91c1a577b74de721e8f299a1b2e70537f907c
f32-0d/int8/support 17bcfe070fcae7a319006a23efdc546752d18530a665a10285a5941fe9011be5
f32-0d/int8/auto 175f90c7243c0769384ca98c3623b0af3d7114bb9f894fb007c10bc0af1a2483
f32-0d/int8/auto0 175f90c7243c0769384ca98c3623b0af3d7114bb9f894fb007c10bc0af1a2483
f32-0d/int8/auto0-ref 175f90c7243c0769384ca98c3623b0af3d7114bb9f894fb007c10bc0af1a2483
f32-0d/int8/joint 175f90c7243c0769384ca98c3623b0af3d7114bb9f894fb007c10bc0af1a2483
f32-0d/int8/joint0 175f90c7243c0769384ca98c3623b0af3d7114bb9f894fb007c10bc0af1a2483
f32-0d-zero/raw/dense e316131ec7962f52b4d66c7dc823c30fea3a25cf42cddad713d3903940215fab
f32-0d-zero/raw/bitmap d59f1e550421334f9f6cb7de56094615ef87204a174cf19d27978f816f6a289f
f32-0d-zero/raw/coo 741b3ddd3b7569c443a0410b1ac913d7cddce4634547616bf0e1f40ab7c860d3
f32-0d-zero/raw/ef 6c4bef7298e3ad2fd5bcc901d3acbb1609136ae40ae3ec8b9b8696f24edde3f9
f32-0d-zero/raw/golomb 20cf091c7d2bd8eac7d0032e453e6d5681c1c1f393b249c8d2bef13b8c6a9000
f32-0d-zero/raw/support 9b765577428cfa5af131f3ff2a0f6862f7743014a80394efdf4cd07a3254e7e8
f32-0d-zero/raw/auto e316131ec7962f52b4d66c7dc823c30fea3a25cf42cddad713d3903940215fab
f32-0d-zero/raw/auto0 e316131ec7962f52b4d66c7dc823c30fea3a25cf42cddad713d3903940215fab
f32-0d-zero/raw/auto0-ref e316131ec7962f52b4d66c7dc823c30fea3a25cf42cddad713d3903940215fab
f32-0d-zero/raw/joint e316131ec7962f52b4d66c7dc823c30fea3a25cf42cddad713d3903940215fab
f32-0d-zero/raw/joint0 e316131ec7962f52b4d66c7dc823c30fea3a25cf42cddad713d3903940215fab
f32-0d-zero/fp16/dense 7867a384874c891f14ba5a48a4b454fd6a7a3e3b34f085a81cc2575a07881fa6
f32-0d-zero/fp16/bitmap a26a07431bd237e075019555cbed5ab5c791ddc26d32706107d0a9a0357d08b5
f32-0d-zero/fp16/coo 6556e2f2a0a22d2d9aaa2de4163513da040a6bf3e7bd2b5cf5b2fecd0c0b28ed
f32-0d-zero/fp16/ef c4fcc83847b52df8a9562f2e10d590cb32dc305f18d4a80bbd4c4adac8d0b3f0
f32-0d-zero/fp16/golomb b24e4afaba1bf9fc57573215d48a677600c59106c49449b4254de4e9d519c0f9
f32-0d-zero/fp16/support e1fdc957051af39c51aaa94aa7fb7604160424268b5fc135c09a1862ba9c46cd
f32-0d-zero/fp16/auto 7867a384874c891f14ba5a48a4b454fd6a7a3e3b34f085a81cc2575a07881fa6
f32-0d-zero/fp16/auto0 7867a384874c891f14ba5a48a4b454fd6a7a3e3b34f085a81cc2575a07881fa6
f32-0d-zero/fp16/auto0-ref 7867a384874c891f14ba5a48a4b454fd6a7a3e3b34f085a81cc2575a07881fa6
f32-0d-zero/fp16/joint 7867a384874c891f14ba5a48a4b454fd6a7a3e3b34f085a81cc2575a07881fa6
f32-0d-zero/fp16/joint0 7867a384874c891f14ba5a48a4b454fd6a7a3e3b34f085a81cc2575a07881fa6
f32-0d-zero/int8/dense d643b1a3c1eb6e900aa5d481a43721d45847db78119f0773921a974be673b0ed
f32-0d-zero/int8/bitmap 6218152a1d256d63f53e243e65ccbaf532db38d5d734ebdcb75d5f2f9b935d93
f32-0d-zero/int8/coo 02a7c68d3e6273f36db1fa54e4d35b64484865a3a645c89995bc13ad4f709f76
f32-0d-zero/int8/ef 366f13ca9f4c2dc19ea0034da35cabb3c2bbc03b74f3fccfc9f7644c0624993b
f32-0d-zero/int8/golomb 642b104af4f6a4593489d3b3c0a941d5aeb04332e83e6157366f00a25c37cdc4
f32-0d-zero/int8/support eba1e264a394e057de6a2d1bce7fa1e560042e57d6d6fe02a34a2bef4e2a3166
f32-0d-zero/int8/auto d643b1a3c1eb6e900aa5d481a43721d45847db78119f0773921a974be673b0ed
f32-0d-zero/int8/auto0 d643b1a3c1eb6e900aa5d481a43721d45847db78119f0773921a974be673b0ed
f32-0d-zero/int8/auto0-ref d643b1a3c1eb6e900aa5d481a43721d45847db78119f0773921a974be673b0ed
f32-0d-zero/int8/joint d643b1a3c1eb6e900aa5d481a43721d45847db78119f0773921a974be673b0ed
f32-0d-zero/int8/joint0 d643b1a3c1eb6e900aa5d481a43721d45847db78119f0773921a974be673b0ed
f32-1d/raw/dense 3769951bbb961c42db289c9e7ce6c96574daa554c16c9a3d590cb845d09de2f5
f32-1d/raw/bitmap f6095216e47cc5276f3f43ba6a23a3849e4202ba63843e3e12b459f5fa9f2c4f
f32-1d/raw/coo 73d9526f26c8b99843ae68441f57756216ec208bc6318e1aac4a7d1e3f538d13
f32-1d/raw/csr 13d2560572fbc04622aa3417a1b59f1d019e807ef5a131f105fec7cc88c689cd
f32-1d/raw/ef 9093f445c9450313927b1f7326a69262b53a5abd8c4a44880d646701f09a1734
f32-1d/raw/golomb c809cb8f0d2e9200375660ed4e3385767a55ae9a0eab6578f504ccc7f3a83998
f32-1d/raw/support 9e66101a70e0de17a5d23242f4345055a14ef51f887661cde936641fb94da517
f32-1d/raw/auto 3769951bbb961c42db289c9e7ce6c96574daa554c16c9a3d590cb845d09de2f5
f32-1d/raw/auto0 3769951bbb961c42db289c9e7ce6c96574daa554c16c9a3d590cb845d09de2f5
f32-1d/raw/auto0-ref 3769951bbb961c42db289c9e7ce6c96574daa554c16c9a3d590cb845d09de2f5
f32-1d/raw/joint 3769951bbb961c42db289c9e7ce6c96574daa554c16c9a3d590cb845d09de2f5
f32-1d/raw/joint0 3769951bbb961c42db289c9e7ce6c96574daa554c16c9a3d590cb845d09de2f5
f32-1d/fp16/dense bce393c7e64cdd8eb28a2b77d85f52c0c6648e9f0c6f9910ca65ac5e28a0dcd1
f32-1d/fp16/bitmap 6b0dc5230a1855075815133293df2a84a74db33d34b814c463d23979d673491c
f32-1d/fp16/coo 564e07ab56aeeefbb49bf66e698dd4b22f9a899f48c12889f29cb3771879f270
f32-1d/fp16/csr 6ddd9af37b1fdc21d3d9f93b633a736f29b7c1c09f355c882f45f2812c0fee7c
f32-1d/fp16/ef 3ff1006d937315d0de7c021b855858707380929c8e134feff42a3fcc3038eff5
f32-1d/fp16/golomb 902a8b76f8f5c3a0e314eea09c9ebd7a2cb179bb0d611ff9d184704456bf25f2
f32-1d/fp16/support 69b1918446a5ac689135573f641e578400d869dd1fb1a5b608bea934863cebcf
f32-1d/fp16/auto bce393c7e64cdd8eb28a2b77d85f52c0c6648e9f0c6f9910ca65ac5e28a0dcd1
f32-1d/fp16/auto0 bce393c7e64cdd8eb28a2b77d85f52c0c6648e9f0c6f9910ca65ac5e28a0dcd1
f32-1d/fp16/auto0-ref bce393c7e64cdd8eb28a2b77d85f52c0c6648e9f0c6f9910ca65ac5e28a0dcd1
f32-1d/fp16/joint bce393c7e64cdd8eb28a2b77d85f52c0c6648e9f0c6f9910ca65ac5e28a0dcd1
f32-1d/fp16/joint0 bce393c7e64cdd8eb28a2b77d85f52c0c6648e9f0c6f9910ca65ac5e28a0dcd1
f32-1d/int8/dense 24f4052a04f41cd5afa27405fc891aeca7ac03e2e8c27edcdb0b3c7a40e8520e
f32-1d/int8/bitmap a40879eec2a009adf430476e8cd2b1d293244704532afc6385ce15fe37cb57b8
f32-1d/int8/coo 50d11c973fba5561662ee3504e9e2538210bfdf1f93eb930253ad667d4762407
f32-1d/int8/csr 28c42082140a0f203aaddabcfe6b313091835b2019acaef7bb85c50f39bb8401
f32-1d/int8/ef e1e41c1c0563cc8296f462abc775fbbdfe3daf52ba3b00b79491c1f28a1aebb3
f32-1d/int8/golomb a5f92aba732a4065510b3eb882e72b91e5e52e331e609e4de993f3d3829cbe5a
f32-1d/int8/support 7b08be59034feac14746d770e217b2e71c8f9678205c5f7e48ec8c76f2c57274
f32-1d/int8/auto 24f4052a04f41cd5afa27405fc891aeca7ac03e2e8c27edcdb0b3c7a40e8520e
f32-1d/int8/auto0 24f4052a04f41cd5afa27405fc891aeca7ac03e2e8c27edcdb0b3c7a40e8520e
f32-1d/int8/auto0-ref 24f4052a04f41cd5afa27405fc891aeca7ac03e2e8c27edcdb0b3c7a40e8520e
f32-1d/int8/joint 24f4052a04f41cd5afa27405fc891aeca7ac03e2e8c27edcdb0b3c7a40e8520e
f32-1d/int8/joint0 24f4052a04f41cd5afa27405fc891aeca7ac03e2e8c27edcdb0b3c7a40e8520e
f32-2d-sparse/raw/dense 04816a3857919d3983f0083e62e1ce829a187d26229dfed7f099bda3fca842e4
f32-2d-sparse/raw/bitmap 57bcc96a06edbfe6736f43bd2b22560d05ef33e1ad60a87cca32e1aa546df1df
f32-2d-sparse/raw/coo 7800c904295530cb8dec64a1786e3e8fae25d6903dec5991b79e5ecfa095d7fe
f32-2d-sparse/raw/csr d95a614ac3da46e4f3b8a42fcb8c886ca585cb6746f9aaf0f3679ace0b87f2fc
f32-2d-sparse/raw/ef bd46311f174d43246d9bbf335064bccfc6ef331f22b09c2a356433b60e093ee0
f32-2d-sparse/raw/golomb 39368a8d433e76e8271032bae019f3762da082210526c44ec52c6c31f52b6318
f32-2d-sparse/raw/support f8e7aa28627cbc2cf85fff4b9755577b3591b7fa41107e73e9e11b53961746a7
f32-2d-sparse/raw/auto 04816a3857919d3983f0083e62e1ce829a187d26229dfed7f099bda3fca842e4
f32-2d-sparse/raw/auto0 bd46311f174d43246d9bbf335064bccfc6ef331f22b09c2a356433b60e093ee0
f32-2d-sparse/raw/auto0-ref bd46311f174d43246d9bbf335064bccfc6ef331f22b09c2a356433b60e093ee0
f32-2d-sparse/raw/joint 04816a3857919d3983f0083e62e1ce829a187d26229dfed7f099bda3fca842e4
f32-2d-sparse/raw/joint0 ac87d210deeda88f6e7bab8970cc0dd5a5c1ede59bcb03f78158a60a0ef43cfd
f32-2d-sparse/fp16/dense 0436789638029044941c6f47635bf471775152aa37fa638c110b91ee9657b487
f32-2d-sparse/fp16/bitmap e9b08a7dfdb7f6a8309a19e34f74b973e25025d4c5b3b8e251ffa60f5b0c75e3
f32-2d-sparse/fp16/coo 8bdca356f4984d83fb7363eda2058132b3c5fb1f437e61318601b025c0955b6f
f32-2d-sparse/fp16/csr 76e77cc58aacfe2860701573fcc1645fcaebb112b5e9a663851adc9bae912e49
f32-2d-sparse/fp16/ef db718420bef919119520023018b9020c4ddd06129863ed3fc8acc21d862e6317
f32-2d-sparse/fp16/golomb e69f1ff5b05c204044d344c31557b88011c9d8849c97938f38763e0f5cdada6f
f32-2d-sparse/fp16/support cbea34bfcc21d1b6892b6fa2b00f267db183144182a626b39cb6c61bf7015127
f32-2d-sparse/fp16/auto 0436789638029044941c6f47635bf471775152aa37fa638c110b91ee9657b487
f32-2d-sparse/fp16/auto0 db718420bef919119520023018b9020c4ddd06129863ed3fc8acc21d862e6317
f32-2d-sparse/fp16/auto0-ref db718420bef919119520023018b9020c4ddd06129863ed3fc8acc21d862e6317
f32-2d-sparse/fp16/joint 0436789638029044941c6f47635bf471775152aa37fa638c110b91ee9657b487
f32-2d-sparse/fp16/joint0 cd3a0f0566ffa2ef3d56240534e84ad6966a9491a15aa9b49391ed74f0b62c2f
f32-2d-sparse/int8/dense 3eac5a05ae4f52c40bed31e9297b9916c4639a4b5ef931abd9c2830005500cc4
f32-2d-sparse/int8/bitmap 392d636f5146074021424ea44c00db6417ae6e169506f7e2d7c2731ecf0a79af
f32-2d-sparse/int8/coo dda2ed8bb3b193b873d2443ef0860380de93da2e832ab69aa8b9b79982d9dde0
f32-2d-sparse/int8/csr a17869559368fc3ee1aae410618c23e8851d395c60d3c75a4864ba2e747b6595
f32-2d-sparse/int8/ef 34fd408d1fe754823e3bb2e873da4a059c57b19d26675a144adb2c297c085c00
f32-2d-sparse/int8/golomb 3f758885e26ba5d75d15039c07ea6d37c7120bf9b8435c6e9c7e319bc0e056ba
f32-2d-sparse/int8/support 343800a114cf8ae63e0a48d96c47fb0d8838025198c673a5c9d672fe26f7a8d1
f32-2d-sparse/int8/auto 3eac5a05ae4f52c40bed31e9297b9916c4639a4b5ef931abd9c2830005500cc4
f32-2d-sparse/int8/auto0 34fd408d1fe754823e3bb2e873da4a059c57b19d26675a144adb2c297c085c00
f32-2d-sparse/int8/auto0-ref 34fd408d1fe754823e3bb2e873da4a059c57b19d26675a144adb2c297c085c00
f32-2d-sparse/int8/joint 3eac5a05ae4f52c40bed31e9297b9916c4639a4b5ef931abd9c2830005500cc4
f32-2d-sparse/int8/joint0 b201a102044704772cf8a9afe432acb9c5b055d1c311693fda97a8afe1a5e9e6
f32-3d-half/raw/dense 897f4660993f108cca0d658567eb157ebe2b5a8e78a1bcd672c827b8dbbe2833
f32-3d-half/raw/bitmap 8cb820bafaeb4708af68e3b8c35e9674904cd277ead80246100741068ee8816e
f32-3d-half/raw/coo 64f819a61f2e28369a82cc31a3500b4c78fde6e18edce0d034215513688a6a0d
f32-3d-half/raw/csr 1d58d26ed7ef3fe9585a6f0fdf07e918f2143ec837fdf87510a5efcf94bc5aed
f32-3d-half/raw/ef d38a3679a61248e08da307723922da8573d51b2cc41c0e4e7b03f8aa5534d599
f32-3d-half/raw/golomb fca7c60245690a73fa30cf7cb9e35da652b8ea2e7d45f6a53e72aee6a351d3e9
f32-3d-half/raw/support 24cdfbcf73de5b5c4893478b44f7ab59387e7bc4164522763c88f6a1ba129a02
f32-3d-half/raw/auto 897f4660993f108cca0d658567eb157ebe2b5a8e78a1bcd672c827b8dbbe2833
f32-3d-half/raw/auto0 8cb820bafaeb4708af68e3b8c35e9674904cd277ead80246100741068ee8816e
f32-3d-half/raw/auto0-ref 8cb820bafaeb4708af68e3b8c35e9674904cd277ead80246100741068ee8816e
f32-3d-half/raw/joint 897f4660993f108cca0d658567eb157ebe2b5a8e78a1bcd672c827b8dbbe2833
f32-3d-half/raw/joint0 957f7d1489339bcc62987942384d8394a01f4772f3cb8e2a754777953a65a575
f32-3d-half/fp16/dense d139818fc224be4356ddfdbae0953288bae2841133c083ae92642b176bcefacc
f32-3d-half/fp16/bitmap fd0d3e2af5588edfcf9c1e9f62ccc9eba961cc07eb8a59bddea4863de581df09
f32-3d-half/fp16/coo b524a5795c4f6a77dee14bbee2b7726fd9c604ccef9314b3d9b63e8c8b57410e
f32-3d-half/fp16/csr dce7f5e0605d7fb2605a4adbba6cef931be090e4239b84d7c21df044a44fb86c
f32-3d-half/fp16/ef 483b809cb71e370ad564097f98bbfc2ca93dde423c56ba9683ce6782a9d1a32c
f32-3d-half/fp16/golomb 3767c6f6dc678dc860df4c8d20d5ebc51af09d3e3c364b27f9ba66a3c98b16d9
f32-3d-half/fp16/support 1f015f63a1e1453dccedec20d60a5d7948ba65523a968e10125fb74ef8180f2e
f32-3d-half/fp16/auto d139818fc224be4356ddfdbae0953288bae2841133c083ae92642b176bcefacc
f32-3d-half/fp16/auto0 fd0d3e2af5588edfcf9c1e9f62ccc9eba961cc07eb8a59bddea4863de581df09
f32-3d-half/fp16/auto0-ref fd0d3e2af5588edfcf9c1e9f62ccc9eba961cc07eb8a59bddea4863de581df09
f32-3d-half/fp16/joint d139818fc224be4356ddfdbae0953288bae2841133c083ae92642b176bcefacc
f32-3d-half/fp16/joint0 6a933ed22d7135595a713c03eafa0744b85606b886ed11bed5f8a9457a92ea3d
f32-3d-half/int8/dense 3f82cc73438dac3c1af5fdbea3ed6319eb8eb6c2f49cc1b21a7fbf3498d78046
f32-3d-half/int8/bitmap d82bf5ab1b9926c1c643e378c5be13cfa69e6921b51994ea6955a73848e3a79e
f32-3d-half/int8/coo 6529fdf09ea904e2fd9bf65aed6b335790ec6cf0c08046a6072cb2f262e92e68
f32-3d-half/int8/csr 8244c89658c8965187d31b30894dc331153e60109bd3bdc82eeaaa1c9278177d
f32-3d-half/int8/ef a0a865f4fe8478d6e4239e04000746148104bbedbb2fcb46915b29f7cc079ed3
f32-3d-half/int8/golomb 95844b3ec2526e9fb9e247678c132ae22ae9ccea7bc77fd6dfe2de5150c2c96a
f32-3d-half/int8/support 8ec1374bdba0768fc0640b19f3ed1112a3d9918fa07597a00a6d5ef6af6eadb3
f32-3d-half/int8/auto 3f82cc73438dac3c1af5fdbea3ed6319eb8eb6c2f49cc1b21a7fbf3498d78046
f32-3d-half/int8/auto0 d82bf5ab1b9926c1c643e378c5be13cfa69e6921b51994ea6955a73848e3a79e
f32-3d-half/int8/auto0-ref d82bf5ab1b9926c1c643e378c5be13cfa69e6921b51994ea6955a73848e3a79e
f32-3d-half/int8/joint 3f82cc73438dac3c1af5fdbea3ed6319eb8eb6c2f49cc1b21a7fbf3498d78046
f32-3d-half/int8/joint0 7e61189b836ecead12cd8d0a535c40e3fcf8ca4c2010c1c2cfb591639d710ad8
f32-4d-sparse/raw/dense 524bfe54d367bbded67bd977b424ddf96dc48d8ba443cb2e3708ff96df86b6d0
f32-4d-sparse/raw/bitmap 179969c1a9320dca655a8fae6f6ae9c24a42dbbf90ac9f5276d4170ab93cb339
f32-4d-sparse/raw/coo 5b84bd11f290bc4c57e5e91e368213023cf150112026d5e371314dcfb73f0ac6
f32-4d-sparse/raw/csr 6f5be7e990628ed40613b8dc3f27d47081893f4640d5a1dfe413bf3141616b7e
f32-4d-sparse/raw/ef b1eef04ef4fa8eda11d03dc7149405100cda58eba9b21623e172bd8801e93512
f32-4d-sparse/raw/golomb 2bdcd78661d1ffd4598e76f52c8ae798cc4b325065227a871de5be07e6c724b8
f32-4d-sparse/raw/support 367da44041fa1cc0ccbd09a97facf8e4024fc132e4c25961c26ca728b2649c9f
f32-4d-sparse/raw/auto 524bfe54d367bbded67bd977b424ddf96dc48d8ba443cb2e3708ff96df86b6d0
f32-4d-sparse/raw/auto0 b1eef04ef4fa8eda11d03dc7149405100cda58eba9b21623e172bd8801e93512
f32-4d-sparse/raw/auto0-ref b1eef04ef4fa8eda11d03dc7149405100cda58eba9b21623e172bd8801e93512
f32-4d-sparse/raw/joint 524bfe54d367bbded67bd977b424ddf96dc48d8ba443cb2e3708ff96df86b6d0
f32-4d-sparse/raw/joint0 69024dba2973dd09334577421973121b52a42b7c4c8067e565bccff58fb15cc7
f32-4d-sparse/fp16/dense 4378dee638e7032f47a2e45f1bff28d3a8b212876761ef3ebdd8db77fbbfa16b
f32-4d-sparse/fp16/bitmap 7005c1aec2915f68ba55a6277494c990ef76227238392daac4a8be85d4c7636d
f32-4d-sparse/fp16/coo f8a81a02a8b10eadade541e938f79c209153a05df43ab30397c07331c9b2c330
f32-4d-sparse/fp16/csr 5048f8588ba9a6fb56acc66b08d3dd241c156f31014ecb4b24388fef7de83da0
f32-4d-sparse/fp16/ef 00969b919039abd0ca7f73fffbe4840c9f94e9fec9d3eb529fc53f49bb45b4ef
f32-4d-sparse/fp16/golomb c69d271d684a9c095dd2c18af26309bc9648958532f58186d449a2c74bba1f63
f32-4d-sparse/fp16/support 4dafba1abaf126dcc2865a5d70738b4c57b51a40f09dd6dee13c842215b877af
f32-4d-sparse/fp16/auto 4378dee638e7032f47a2e45f1bff28d3a8b212876761ef3ebdd8db77fbbfa16b
f32-4d-sparse/fp16/auto0 00969b919039abd0ca7f73fffbe4840c9f94e9fec9d3eb529fc53f49bb45b4ef
f32-4d-sparse/fp16/auto0-ref 00969b919039abd0ca7f73fffbe4840c9f94e9fec9d3eb529fc53f49bb45b4ef
f32-4d-sparse/fp16/joint 4378dee638e7032f47a2e45f1bff28d3a8b212876761ef3ebdd8db77fbbfa16b
f32-4d-sparse/fp16/joint0 ad1c7360a2ee101e251b937e368ab8f7d8713812a059fe49200500094f35ae36
f32-4d-sparse/int8/dense ab85814af54691205941a3847609e639bf12e7e49e8b16509ee8a9085ea4893f
f32-4d-sparse/int8/bitmap ebf03f183c303668f0727683ba516e02ea642adc5372ea86a9bdc62ef3e0b7df
f32-4d-sparse/int8/coo 1cc31693b9c1f9a547834cdb60a0c1527f9d3ee8a19eda4ed5540d7f76f3ae56
f32-4d-sparse/int8/csr faa29cf9e2ac312e435a8c8320a4c339c254e79ce6d30d20c5e5f881b08f962c
f32-4d-sparse/int8/ef 0a8d521c51665d6c4dcf2b1bb78ee6764d11b32c7f68c3ba0f65fbb2a08ee60f
f32-4d-sparse/int8/golomb 9aa18b3ade76a54cdd9a0feee3062e7ae6a849ed243f645aa6733f7a78e915fa
f32-4d-sparse/int8/support a46780b1675a1daa8a68b783ee079ddc62ca0960b804d29629733a8988f3d011
f32-4d-sparse/int8/auto ab85814af54691205941a3847609e639bf12e7e49e8b16509ee8a9085ea4893f
f32-4d-sparse/int8/auto0 0a8d521c51665d6c4dcf2b1bb78ee6764d11b32c7f68c3ba0f65fbb2a08ee60f
f32-4d-sparse/int8/auto0-ref 0a8d521c51665d6c4dcf2b1bb78ee6764d11b32c7f68c3ba0f65fbb2a08ee60f
f32-4d-sparse/int8/joint ab85814af54691205941a3847609e639bf12e7e49e8b16509ee8a9085ea4893f
f32-4d-sparse/int8/joint0 8c9073af12b983bdb881bb59a1c7e0aa9156d297e273d9ddfd6b0b3a44ed1a9b
f32-2d-zero/raw/dense 4517d0443e6cd23133b03c2f56083eb02c6a9b9823755a9268a3f2c6fa196664
f32-2d-zero/raw/bitmap 946de6427f2072a46223a985460965dc98974520ac8543f3f97bcd389e94635d
f32-2d-zero/raw/coo 382bd009519d24a74b1698a3c5fe3eaa7a8ea758a938c8025175a30a9248988c
f32-2d-zero/raw/csr 288e96108a7046530f0b082fcf2886d0613b146a82e325b5a85d865852979720
f32-2d-zero/raw/ef 081c6499620e12e87ad38fbb173ff456f680638213a0c2d59be2fd5775586447
f32-2d-zero/raw/golomb bb272c4dd9633306e23dffa3fa1d5706568c775334c2a78f983e19d01a676344
f32-2d-zero/raw/support 2889e2ac025cbfcb1a0f269301ec88aff5ba4ddaead7561af47dc5ed79c2571d
f32-2d-zero/raw/auto 382bd009519d24a74b1698a3c5fe3eaa7a8ea758a938c8025175a30a9248988c
f32-2d-zero/raw/auto0 382bd009519d24a74b1698a3c5fe3eaa7a8ea758a938c8025175a30a9248988c
f32-2d-zero/raw/auto0-ref 382bd009519d24a74b1698a3c5fe3eaa7a8ea758a938c8025175a30a9248988c
f32-2d-zero/raw/joint 382bd009519d24a74b1698a3c5fe3eaa7a8ea758a938c8025175a30a9248988c
f32-2d-zero/raw/joint0 382bd009519d24a74b1698a3c5fe3eaa7a8ea758a938c8025175a30a9248988c
f32-2d-zero/fp16/dense 4815078c39e87c45258389e7a62e54251d69338a35e14d7fa93ce7ae67f54e54
f32-2d-zero/fp16/bitmap 66df86d2a69c471c94c344d75606ebedf34daff1ae9ce333d058b8148795f8e1
f32-2d-zero/fp16/coo 956c26ec9a91e119399e353023c3da0c41f7e1a2f2387df31dd532d5f039a613
f32-2d-zero/fp16/csr babc8e5f475cad8a9774dd9aae55c22c35243e84e9398b5c0bfe8a5bf56775ee
f32-2d-zero/fp16/ef a2741d1dc6330529b5610eecc232471e1c54be8a6eca877831f9bf4388d778f5
f32-2d-zero/fp16/golomb 4004ece4cfbf15c21ef143463679fc469f0890577acece73750ed7eeaea6626c
f32-2d-zero/fp16/support 947317386ad6fe95dffb134dfe8a868c9476105f2acff80285dabd29aeb7ceac
f32-2d-zero/fp16/auto 956c26ec9a91e119399e353023c3da0c41f7e1a2f2387df31dd532d5f039a613
f32-2d-zero/fp16/auto0 956c26ec9a91e119399e353023c3da0c41f7e1a2f2387df31dd532d5f039a613
f32-2d-zero/fp16/auto0-ref 956c26ec9a91e119399e353023c3da0c41f7e1a2f2387df31dd532d5f039a613
f32-2d-zero/fp16/joint 956c26ec9a91e119399e353023c3da0c41f7e1a2f2387df31dd532d5f039a613
f32-2d-zero/fp16/joint0 956c26ec9a91e119399e353023c3da0c41f7e1a2f2387df31dd532d5f039a613
f32-2d-zero/int8/dense a181274af6b818f2fd913930ebf1b00d0d5c503224c8dd29ce9f58a6c36076d7
f32-2d-zero/int8/bitmap a8da01daad91582f6d5ecb24d3585c9b895139d92427b6605e884b3fe6badb98
f32-2d-zero/int8/coo a321ef4276c60572521cdfd11c9f83ab04fbc1d49e701320dd24e9dd6c52ea20
f32-2d-zero/int8/csr 917a4fd7b194efe0cdbaade96cd7dbc16ee3f8566e8e8689f1e398338561e709
f32-2d-zero/int8/ef 2f3e13a4448980afe28c9f77053ca4e557b80e9585988f4f9e4ccccb2af31635
f32-2d-zero/int8/golomb ef07a960aa2ac26beaf096771dc8aad35eb466c0090032367396eca40d7532c1
f32-2d-zero/int8/support b411c87ec85ea44624ea9ade7819286f5b258d24985cdaab93c506153b4f94a7
f32-2d-zero/int8/auto a321ef4276c60572521cdfd11c9f83ab04fbc1d49e701320dd24e9dd6c52ea20
f32-2d-zero/int8/auto0 a321ef4276c60572521cdfd11c9f83ab04fbc1d49e701320dd24e9dd6c52ea20
f32-2d-zero/int8/auto0-ref a321ef4276c60572521cdfd11c9f83ab04fbc1d49e701320dd24e9dd6c52ea20
f32-2d-zero/int8/joint a321ef4276c60572521cdfd11c9f83ab04fbc1d49e701320dd24e9dd6c52ea20
f32-2d-zero/int8/joint0 a321ef4276c60572521cdfd11c9f83ab04fbc1d49e701320dd24e9dd6c52ea20
f32-2d-full/raw/dense d3fb7208e32ec2b40ad190949c22318821aeb51a528fe043ffa81d9549ef4a77
f32-2d-full/raw/bitmap f305656c3572f07749f64bff6fac635bdd7d5fe188ab70bc0f797451bd48c49c
f32-2d-full/raw/coo 937c9783227841eb55e91ba7172ad7507e606480eec9e2bff12f8a966a759b90
f32-2d-full/raw/csr de4bba7976a3d572818042a97e845f055d39f3b8aa66ca0e75930d86514e4f64
f32-2d-full/raw/ef 8c8b24fe0ad45ba684aae2f344dbf26be646f512c1a9dce029740e052fedec73
f32-2d-full/raw/golomb ebb0513de5ada4109379b058b41ed7a27a0e8f57af45fe86f944f283d98ff5e3
f32-2d-full/raw/support e0f2e687e4be7d8e57cc6a2f55b5224f4708afb3ceadf6c7749586a656216e25
f32-2d-full/raw/auto d3fb7208e32ec2b40ad190949c22318821aeb51a528fe043ffa81d9549ef4a77
f32-2d-full/raw/auto0 d3fb7208e32ec2b40ad190949c22318821aeb51a528fe043ffa81d9549ef4a77
f32-2d-full/raw/auto0-ref d3fb7208e32ec2b40ad190949c22318821aeb51a528fe043ffa81d9549ef4a77
f32-2d-full/raw/joint d3fb7208e32ec2b40ad190949c22318821aeb51a528fe043ffa81d9549ef4a77
f32-2d-full/raw/joint0 d3fb7208e32ec2b40ad190949c22318821aeb51a528fe043ffa81d9549ef4a77
f32-2d-full/fp16/dense 38ccb1dfd2ec073e91439ab7b44a085aed2351cb62e4d9c6cb099d7ecf7a3c8c
f32-2d-full/fp16/bitmap 9950c09ce868fd8c3fde82b0c2afbc2573e6cbeca68c90de6ed6142e471179ed
f32-2d-full/fp16/coo c3d3f1be71ed9f6b8f8a72510729d1e547252c1208db80b8c36ce2637bc5e261
f32-2d-full/fp16/csr 89d3bb59614e818bc7783820da71d65b735040d51afed5209a6324328a92dc41
f32-2d-full/fp16/ef 6463c1c550a4d660f94db35c461479f2938d0d9b91e10395fb124288bc0add0f
f32-2d-full/fp16/golomb c93c5d0ad7db27f2874dfc66d2fa5d5072a11fa368b91970da85429f5109caff
f32-2d-full/fp16/support 44a8c6dfd48e7547763be07ea8ed7e475e683b25d3c14572f3e7696b8cbe1910
f32-2d-full/fp16/auto 38ccb1dfd2ec073e91439ab7b44a085aed2351cb62e4d9c6cb099d7ecf7a3c8c
f32-2d-full/fp16/auto0 38ccb1dfd2ec073e91439ab7b44a085aed2351cb62e4d9c6cb099d7ecf7a3c8c
f32-2d-full/fp16/auto0-ref 38ccb1dfd2ec073e91439ab7b44a085aed2351cb62e4d9c6cb099d7ecf7a3c8c
f32-2d-full/fp16/joint 38ccb1dfd2ec073e91439ab7b44a085aed2351cb62e4d9c6cb099d7ecf7a3c8c
f32-2d-full/fp16/joint0 38ccb1dfd2ec073e91439ab7b44a085aed2351cb62e4d9c6cb099d7ecf7a3c8c
f32-2d-full/int8/dense c268b8df6624d357bb4375af86737857231b097d7e29de3c03dc523363065831
f32-2d-full/int8/bitmap d6803e954112e1f4cd92ca84e03b2ce76a5d31dcb551e58407a70c3c830b13e7
f32-2d-full/int8/coo 83bfcd0ce0114ce31b75e4bdb44c11a8b6c23076bc7c9ae4beb96cca416bdd18
f32-2d-full/int8/csr 8ffc3f3e735740b7815dc33d5e3352a310be132362a1c7eafb43f13c54af9de4
f32-2d-full/int8/ef 0678bd57ae1fa7d5d28cf38f3867964c4d822947d2edd2cd3fb74310e945b29c
f32-2d-full/int8/golomb 7027a8672cd82b6a69d2454a67382e60c73fc7e57828d55b296001e10629ba93
f32-2d-full/int8/support fa5cbf01ac272e6b51508ad4c82fc97818afb13b5a9698db970c436dd57c0660
f32-2d-full/int8/auto c268b8df6624d357bb4375af86737857231b097d7e29de3c03dc523363065831
f32-2d-full/int8/auto0 c268b8df6624d357bb4375af86737857231b097d7e29de3c03dc523363065831
f32-2d-full/int8/auto0-ref c268b8df6624d357bb4375af86737857231b097d7e29de3c03dc523363065831
f32-2d-full/int8/joint 51c89e4d5d0c534b379973a9908d45c422fe0321c9c19a0bb6437128cb8424fa
f32-2d-full/int8/joint0 51c89e4d5d0c534b379973a9908d45c422fe0321c9c19a0bb6437128cb8424fa
f32-2d-empty/raw/dense d28acc4e0ac2b6f55bb321d37f920f6849f4a0ce373bafe09d410082cb0f6f56
f32-2d-empty/raw/bitmap 8d9f7e9633f7e263d8a0c94f45e7199d68cab355b92eb67a9ed84c00848a1a03
f32-2d-empty/raw/coo a26e47a9eda77c38a4d19bdc384eea8bc32d2ff13ffb1baa21dfdde4a1404b78
f32-2d-empty/raw/csr 91a8c214a994b5eea05b279f2ee20874c033dd44d0918ffeb30692e6681ab101
f32-2d-empty/raw/ef 9e2aeacbfeb4741e7caa3feaf20dfc208503f8c74ee4f65b8d39900b0b2392ad
f32-2d-empty/raw/golomb 6354a6e4d25fe58d88283eba87e174bea5f086306c1db77baa6a0ce2dccd9110
f32-2d-empty/raw/support 078f2d0e604b09d02f7090f336028ef1eaddcd3805eb3beb7213666d0e4e73ad
f32-2d-empty/raw/auto d28acc4e0ac2b6f55bb321d37f920f6849f4a0ce373bafe09d410082cb0f6f56
f32-2d-empty/raw/auto0 d28acc4e0ac2b6f55bb321d37f920f6849f4a0ce373bafe09d410082cb0f6f56
f32-2d-empty/raw/auto0-ref d28acc4e0ac2b6f55bb321d37f920f6849f4a0ce373bafe09d410082cb0f6f56
f32-2d-empty/raw/joint d28acc4e0ac2b6f55bb321d37f920f6849f4a0ce373bafe09d410082cb0f6f56
f32-2d-empty/raw/joint0 d28acc4e0ac2b6f55bb321d37f920f6849f4a0ce373bafe09d410082cb0f6f56
f32-2d-empty/fp16/dense 1ff6b4d573c467fa25f199c87ef6e4bd9f7fc82ccfa02cfbac3ea99fa78328aa
f32-2d-empty/fp16/bitmap 023749f2c6db6a9bca60b67f7ca20953cdbdb1f638b59ea40d4af298d387c2a9
f32-2d-empty/fp16/coo 3693509622bafe9c22f23df5679cb07f4ad2f537f0bc321ea58fcdfce3afa6b6
f32-2d-empty/fp16/csr c914586ad9ccc319bd17522604bb60cbe513b8cedf6c83334f0a2d15d8b6a0b6
f32-2d-empty/fp16/ef 7a954438c009bbac2bace31f5a49e4b78c1a2e523ec4308e51eb8289125a61bd
f32-2d-empty/fp16/golomb 3df895b67f0f5c6ec1a498ed34b2ea8114933d8e25aa1ccf61005b848295bd87
f32-2d-empty/fp16/support b858052af53f036eb524fb98380d046f3a9026fde6bc347fe18bbce0c81869be
f32-2d-empty/fp16/auto 1ff6b4d573c467fa25f199c87ef6e4bd9f7fc82ccfa02cfbac3ea99fa78328aa
f32-2d-empty/fp16/auto0 1ff6b4d573c467fa25f199c87ef6e4bd9f7fc82ccfa02cfbac3ea99fa78328aa
f32-2d-empty/fp16/auto0-ref 1ff6b4d573c467fa25f199c87ef6e4bd9f7fc82ccfa02cfbac3ea99fa78328aa
f32-2d-empty/fp16/joint 1ff6b4d573c467fa25f199c87ef6e4bd9f7fc82ccfa02cfbac3ea99fa78328aa
f32-2d-empty/fp16/joint0 1ff6b4d573c467fa25f199c87ef6e4bd9f7fc82ccfa02cfbac3ea99fa78328aa
f32-2d-empty/int8/dense 6f665153b5c1cbd152a49e3933671bc47f68900fc7ef894ddd1b1695aaf51fa5
f32-2d-empty/int8/bitmap 76208fe3f319d0c7692b9f52da40a80bf093e2deaeddd4682d56488356fb19e5
f32-2d-empty/int8/coo 6a09e3ed1ae361713a12960333645274a81884dfc8d3795f1a88b7f5bc241afd
f32-2d-empty/int8/csr bc41b68d8b51d9ed534ab4b11c3c84d4745138764fc56ec3637877f2ff24db23
f32-2d-empty/int8/ef 1978e55a3bde9d391531f291e85be579ff904f35cc95e03cafb34cce12aacaa7
f32-2d-empty/int8/golomb 07ee8970060affcaa84942a283e8a4eb8742eee831d7812c88868204ce407ae2
f32-2d-empty/int8/support 9347d8b493eab7e536eb7443ab94a96c4e54f6b9ce01bf314896279bd6ece298
f32-2d-empty/int8/auto 6f665153b5c1cbd152a49e3933671bc47f68900fc7ef894ddd1b1695aaf51fa5
f32-2d-empty/int8/auto0 6f665153b5c1cbd152a49e3933671bc47f68900fc7ef894ddd1b1695aaf51fa5
f32-2d-empty/int8/auto0-ref 6f665153b5c1cbd152a49e3933671bc47f68900fc7ef894ddd1b1695aaf51fa5
f32-2d-empty/int8/joint 6f665153b5c1cbd152a49e3933671bc47f68900fc7ef894ddd1b1695aaf51fa5
f32-2d-empty/int8/joint0 6f665153b5c1cbd152a49e3933671bc47f68900fc7ef894ddd1b1695aaf51fa5
f32-2d-specials/raw/dense f0cf8740c733be15cc381d3c1146ab2a7e4e266de7feed7edac0f6d84d258eb6
f32-2d-specials/raw/bitmap 2a389d566ea99eb56b867f6f69abac82412f6409a3a8f0b8689f3ffd5891326b
f32-2d-specials/raw/coo 0bdc1958822e5f1f0f36a7a11c1cb3da7d27896e5078272ad940db2eea4ec646
f32-2d-specials/raw/csr d2937160a1d49f0cfea728bb98c4f51e25f7179068c75dc12b80bad7b78b9e38
f32-2d-specials/raw/ef a9f4d7d475dd28906f0d7bf3ffe5b1e2285107a9936ed697911da83b0d6be5ba
f32-2d-specials/raw/golomb 1db8fbdff5ef9d0d1c60e2a564c26788b0df6da77c4ac0beb7e72489b3126cf9
f32-2d-specials/raw/support 818ccf1faa974897352d399653a46c2718d9660260b516cba49ed5c3c348f09c
f32-2d-specials/raw/auto f0cf8740c733be15cc381d3c1146ab2a7e4e266de7feed7edac0f6d84d258eb6
f32-2d-specials/raw/auto0 2a389d566ea99eb56b867f6f69abac82412f6409a3a8f0b8689f3ffd5891326b
f32-2d-specials/raw/auto0-ref 2a389d566ea99eb56b867f6f69abac82412f6409a3a8f0b8689f3ffd5891326b
f32-2d-specials/raw/joint f0cf8740c733be15cc381d3c1146ab2a7e4e266de7feed7edac0f6d84d258eb6
f32-2d-specials/raw/joint0 a1754a50baeecbaa7ad21eaa97bc1d3bd333e1faa579c50750c0f31dc5bada26
f32-big-sparse/raw/dense cf368adc38cc703fc4f11fa9384140e4a06ec67ac0a1ea3cb4d503de646d1a64
f32-big-sparse/raw/bitmap 4d69658202df57523ed30db14fbdbecd9af450ce50fc2c483b949937e4ab10dd
f32-big-sparse/raw/coo 86d1797c5cc78cfbe1aa13c89dd540de792dbfdd6adc438cca886a44b69051fe
f32-big-sparse/raw/csr 3c6d8406716c8fa9174c7ad697ad0c57f86e43057c7c3e924bc2e09f8a32cfaf
f32-big-sparse/raw/ef 9b3124d8926380f7125671506698fd9bae5510bfccd5e55d131ba95201a1736f
f32-big-sparse/raw/golomb 6935d4fbd066c1cdd72d9285798d1b83531ad1a78ac9daf63f12359e2535dfb5
f32-big-sparse/raw/support 34627d1faa728dadf3161577b36ee31ed036b48d14791dd58789395678d419d1
f32-big-sparse/raw/auto 6935d4fbd066c1cdd72d9285798d1b83531ad1a78ac9daf63f12359e2535dfb5
f32-big-sparse/raw/auto0 6935d4fbd066c1cdd72d9285798d1b83531ad1a78ac9daf63f12359e2535dfb5
f32-big-sparse/raw/auto0-ref 34627d1faa728dadf3161577b36ee31ed036b48d14791dd58789395678d419d1
f32-big-sparse/raw/joint 34627d1faa728dadf3161577b36ee31ed036b48d14791dd58789395678d419d1
f32-big-sparse/raw/joint0 34627d1faa728dadf3161577b36ee31ed036b48d14791dd58789395678d419d1
f32-big-sparse/fp16/dense 6a76cbd10cd5436b38d8964a0dbe694e967a607d66f9abc75634b7f8928e0024
f32-big-sparse/fp16/bitmap 054d63d45be6bd3d07367dc168784bf0ee4219d24efba027936494130091f9ba
f32-big-sparse/fp16/coo 00d8f168e64662e6e054339065ef7398ad8aa480c0130615b3e1159bca42715a
f32-big-sparse/fp16/csr e4717bfdf558a9da1195a7b827dfc5a6c26541f20f219bd7030adf2e88b818de
f32-big-sparse/fp16/ef 7d6c4fa359b080cba9b6eae6e81ed8e198a3536732adea882888623991d26803
f32-big-sparse/fp16/golomb b4b780607d28bd89ec2fa032b7d7aabb182e8a5d67ab1b322738ae01b207ad72
f32-big-sparse/fp16/support 8c44b2e2a24f94c5e9d4600a8c68a6701abd73fa3c9cc2563790f5af07a45c84
f32-big-sparse/fp16/auto b4b780607d28bd89ec2fa032b7d7aabb182e8a5d67ab1b322738ae01b207ad72
f32-big-sparse/fp16/auto0 b4b780607d28bd89ec2fa032b7d7aabb182e8a5d67ab1b322738ae01b207ad72
f32-big-sparse/fp16/auto0-ref 8c44b2e2a24f94c5e9d4600a8c68a6701abd73fa3c9cc2563790f5af07a45c84
f32-big-sparse/fp16/joint 8c44b2e2a24f94c5e9d4600a8c68a6701abd73fa3c9cc2563790f5af07a45c84
f32-big-sparse/fp16/joint0 8c44b2e2a24f94c5e9d4600a8c68a6701abd73fa3c9cc2563790f5af07a45c84
f32-big-sparse/int8/dense 968f643da8a5b8ef6d9267010f36f58f9b5be985246d0ac637f68e4f62d5bd1a
f32-big-sparse/int8/bitmap ddea4224bab1a0f03dde6a0f6826f86369bb32bd6c45b45e845206764a0c8b6b
f32-big-sparse/int8/coo 88efbf9c9427abd7269b9a72c687ada91a3bc832236f93129c5b5f841ad037e4
f32-big-sparse/int8/csr ffdd6ce9f7cafab05a350c3e74eeb49940b6479e8ae9b1115f3ab007b6ae1e97
f32-big-sparse/int8/ef a007dbae1877b5efd49d44d25465b2e90bccfe90f2b1eb20ca505b589387d35a
f32-big-sparse/int8/golomb fd593b86d674d6c149d39e5bba57be3449762584b651d7714a786a20dd4725d3
f32-big-sparse/int8/support 58b4506f7db8e3e406917ed1eeb06ce93193994024f12a759fa239989f7828c8
f32-big-sparse/int8/auto fd593b86d674d6c149d39e5bba57be3449762584b651d7714a786a20dd4725d3
f32-big-sparse/int8/auto0 fd593b86d674d6c149d39e5bba57be3449762584b651d7714a786a20dd4725d3
f32-big-sparse/int8/auto0-ref 58b4506f7db8e3e406917ed1eeb06ce93193994024f12a759fa239989f7828c8
f32-big-sparse/int8/joint 58b4506f7db8e3e406917ed1eeb06ce93193994024f12a759fa239989f7828c8
f32-big-sparse/int8/joint0 58b4506f7db8e3e406917ed1eeb06ce93193994024f12a759fa239989f7828c8
f32-big-dense/raw/dense d19995c005126e943668129c15dc4619ed7d5f9458fb66024c4d26deff6e3fe2
f32-big-dense/raw/bitmap 2999583ac6d7bcc5533e9dd2981a2f77bf26586b565e7550ee16d117abc8b1b2
f32-big-dense/raw/coo f33bc21141ad2d482e49614935e8b0d1bfe83313de506208374fff05b1440d41
f32-big-dense/raw/csr 61b6ab0fb6d248a457f63a20b2d9e5bfb67d19103c82b5156a6f762e06e84ba1
f32-big-dense/raw/ef 5ca68abe4fd1498862acb47570bc4248f51ac60cf2483942897255bd83e900b8
f32-big-dense/raw/golomb 786f6f6418cd85e499c1ce2edf0132abcaef894da3c9cbeef12eee4ac3c03b4b
f32-big-dense/raw/support 2ff5d55ad8ab962e3234d761ddc8ba34d276dd128255a0e2ef0f79fd0565f4c2
f32-big-dense/raw/auto 786f6f6418cd85e499c1ce2edf0132abcaef894da3c9cbeef12eee4ac3c03b4b
f32-big-dense/raw/auto0 786f6f6418cd85e499c1ce2edf0132abcaef894da3c9cbeef12eee4ac3c03b4b
f32-big-dense/raw/auto0-ref 2ff5d55ad8ab962e3234d761ddc8ba34d276dd128255a0e2ef0f79fd0565f4c2
f32-big-dense/raw/joint 2ff5d55ad8ab962e3234d761ddc8ba34d276dd128255a0e2ef0f79fd0565f4c2
f32-big-dense/raw/joint0 2ff5d55ad8ab962e3234d761ddc8ba34d276dd128255a0e2ef0f79fd0565f4c2
f32-big-dense/fp16/dense d683be7ba54b04d1dc93640dcc4e607a80bdbe495d7d6b00425234b5f9fd558d
f32-big-dense/fp16/bitmap d8756c5c6568199189856e2e0b142fc42504d3bf51416d46f770917828b26384
f32-big-dense/fp16/coo 3c43e48b8f68ccaf6abf8df7386cf7ff8cc0c58421af196210e1e9c4c1435610
f32-big-dense/fp16/csr 490465efefd992d68073be04b1b7c12223b30fb31fe6e7fa69e9532714ce64d2
f32-big-dense/fp16/ef 5722720f5a3f5883de194ae555d3aa2ec1daad1fb0e6aa39ca4c902c6d64f3cd
f32-big-dense/fp16/golomb 4de261bc40c673637641593a67e97751a0351a2790c50b4fdcb0161de9ebfc17
f32-big-dense/fp16/support d0970d445dc44b1e70be7aa38ab6672b87a762f8e8ddbe67caebe38861440aa0
f32-big-dense/fp16/auto 4de261bc40c673637641593a67e97751a0351a2790c50b4fdcb0161de9ebfc17
f32-big-dense/fp16/auto0 4de261bc40c673637641593a67e97751a0351a2790c50b4fdcb0161de9ebfc17
f32-big-dense/fp16/auto0-ref d0970d445dc44b1e70be7aa38ab6672b87a762f8e8ddbe67caebe38861440aa0
f32-big-dense/fp16/joint d0970d445dc44b1e70be7aa38ab6672b87a762f8e8ddbe67caebe38861440aa0
f32-big-dense/fp16/joint0 d0970d445dc44b1e70be7aa38ab6672b87a762f8e8ddbe67caebe38861440aa0
f32-big-dense/int8/dense 1e6b7c51350515f3a7c10d06498d55bd483be51a95b16a78a77ebf496ed112da
f32-big-dense/int8/bitmap 2958955d967ad1d0cbdc941a63e0e23e32b4b08e85b2a2461f236006d33acffe
f32-big-dense/int8/coo 4947afa4035c1e585985d39e49e0a8cd5c4d10a2b261e360957c3a7abfadd1df
f32-big-dense/int8/csr daa36a0af3a0a9be34cbb5b60f120e926ab55745f951ad58031be00678ab0d66
f32-big-dense/int8/ef bf6de635c4dcbf5c17fbfb87a4d90e742f5ad887148e9dc8e50c1ddc51544a6a
f32-big-dense/int8/golomb 62d1012f210936d5a33b293a392e5413d905943ba5f4adb2f15ac4b40f127f66
f32-big-dense/int8/support ca9d9acece1dcbb13969489435fb23a2a61d09fc81f34f8deca1c32b68f39e43
f32-big-dense/int8/auto 62d1012f210936d5a33b293a392e5413d905943ba5f4adb2f15ac4b40f127f66
f32-big-dense/int8/auto0 62d1012f210936d5a33b293a392e5413d905943ba5f4adb2f15ac4b40f127f66
f32-big-dense/int8/auto0-ref ca9d9acece1dcbb13969489435fb23a2a61d09fc81f34f8deca1c32b68f39e43
f32-big-dense/int8/joint ca9d9acece1dcbb13969489435fb23a2a61d09fc81f34f8deca1c32b68f39e43
f32-big-dense/int8/joint0 ca9d9acece1dcbb13969489435fb23a2a61d09fc81f34f8deca1c32b68f39e43
f32-be/raw/dense bdcd3a4c3135dc903af43a0ba20789d0f8ce5ea3f23c2290c7726c40e6f0374d
f32-be/raw/bitmap 8d8cb8557f153831b6a4a42aab24e386c82fca24cc3fa64d2dbe77d08f3ad8dd
f32-be/raw/coo 8af9b5dba894bf75fbaa0c0a54f6e6e3e1c4597697f969f584d2b59cdca35791
f32-be/raw/csr 2f073220895f35f7fc954af4999c8d3491c51965e53b736fa558f77348d64b3c
f32-be/raw/ef 1289748a4f9604de235ebc7530a831acbe132c7ae70accf430b85bb87c89698f
f32-be/raw/golomb 3b57851c4ded2e55930006d5045b4ccb5d3718971ab11542c217bdbd59e479c3
f32-be/raw/support 25302058668abf8a8de3c686854b9241d7fdc4b18ac038ab51b0a1490deb7f74
f32-be/raw/auto bdcd3a4c3135dc903af43a0ba20789d0f8ce5ea3f23c2290c7726c40e6f0374d
f32-be/raw/auto0 1289748a4f9604de235ebc7530a831acbe132c7ae70accf430b85bb87c89698f
f32-be/raw/auto0-ref 1289748a4f9604de235ebc7530a831acbe132c7ae70accf430b85bb87c89698f
f32-be/raw/joint bdcd3a4c3135dc903af43a0ba20789d0f8ce5ea3f23c2290c7726c40e6f0374d
f32-be/raw/joint0 a9eff4684c4870329543611b14a3adad5fe19f859e5bc0027fafd0e81408c504
f32-be/fp16/dense c77a7c398b1f512ebf18a1c9c463eb353ecd9a5da13bd85834ee9c579c0aa16c
f32-be/fp16/bitmap 6b031dc5086168bff82ece4527b8618aa11cbf9f59c1b54140ed0a34de5ca73a
f32-be/fp16/coo 8726c8361e0cee891549b44c1bca8afeaeb52d75a8c375ff6e0713ebb78b9d06
f32-be/fp16/csr 7915bc2b248091221f98baf33c13510b74ea3e2bd84b78ca6b19557c78564d21
f32-be/fp16/ef fe174b68128fdc00b9920e1bc28cde71283a18d6bad2f6f07a7222a6f2ab7526
f32-be/fp16/golomb 21b323dbad14f6cf3e9d80f322e1742d08bb5a9ea1412facdcbbbb99fb5436e3
f32-be/fp16/support cc74ac8f03282658ad4946eb30b4aed3e6e1769de86d22e4742564fedec52871
f32-be/fp16/auto c77a7c398b1f512ebf18a1c9c463eb353ecd9a5da13bd85834ee9c579c0aa16c
f32-be/fp16/auto0 fe174b68128fdc00b9920e1bc28cde71283a18d6bad2f6f07a7222a6f2ab7526
f32-be/fp16/auto0-ref fe174b68128fdc00b9920e1bc28cde71283a18d6bad2f6f07a7222a6f2ab7526
f32-be/fp16/joint c77a7c398b1f512ebf18a1c9c463eb353ecd9a5da13bd85834ee9c579c0aa16c
f32-be/fp16/joint0 dae22b4356ba36ac814acfca0d4cf5f60b90112556afef89aad4662ad7677c62
f32-be/int8/dense 66e8dd49b5fc98076e1273c81c2490a8385544a68ec57bb65b5df74271ad7bc1
f32-be/int8/bitmap acca47b432d5fc187cba0c46fe726b83db340a50a2ecb77622a2608d6698949d
f32-be/int8/coo 059c634171a1c8b19814f71946645513c49b3a0c73793067762f9fe5800dcb00
f32-be/int8/csr 1da818074cd578b8341053958099330fd109043e027bdef7a6f8bce0cd48989d
f32-be/int8/ef 317be915401a9e7b6da70ecfcb20a20f8c539b6a16764b3aaf806953fd9cf69b
f32-be/int8/golomb 06ea4e7313bb5cd88471bf72a59e311d6ff974991f1c4f431ded5ff8a575d06d
f32-be/int8/support 1dd79fb5bb181ee565d97b98cad677c0faa29a7156ac7cc577953b0afb37186e
f32-be/int8/auto 66e8dd49b5fc98076e1273c81c2490a8385544a68ec57bb65b5df74271ad7bc1
f32-be/int8/auto0 317be915401a9e7b6da70ecfcb20a20f8c539b6a16764b3aaf806953fd9cf69b
f32-be/int8/auto0-ref 317be915401a9e7b6da70ecfcb20a20f8c539b6a16764b3aaf806953fd9cf69b
f32-be/int8/joint 66e8dd49b5fc98076e1273c81c2490a8385544a68ec57bb65b5df74271ad7bc1
f32-be/int8/joint0 8a5a31e9ee1810db9bb5ad346cb1889064b47dd62a8e4d0ea121c3c38b6790d6
f64-2d/raw/dense 9eaa38b9fc86e9e19f19d547f3301b25bfc776c284b15691ee5faa6b8e954990
f64-2d/raw/bitmap ce16a496b5c1427a2e5f94a81997b90148353ef3eabcb9608611902f3a227ff1
f64-2d/raw/coo bcab4f6d6cc8756ac8091a2edb7ec2c60e686a9ee475911d9509d330833d5a09
f64-2d/raw/csr c4181b9e199a027ed8484e48a43887e37d2239a2442b131c8b8c74690b7cb7b1
f64-2d/raw/ef 81289cde6ba4bbd4219db6de66d4a7d3cbebafc482cd62600f868cac41be9673
f64-2d/raw/golomb 314989c3a7c0284d2dabc265676f4413ce9fcbad9594b2e6dee64b2c88cc2f08
f64-2d/raw/support 7c53a8e8d5c4e19cfe7feb1a0159dbe367f4aba1e9e3ff47417903f755abeef3
f64-2d/raw/auto 81289cde6ba4bbd4219db6de66d4a7d3cbebafc482cd62600f868cac41be9673
f64-2d/raw/auto0 81289cde6ba4bbd4219db6de66d4a7d3cbebafc482cd62600f868cac41be9673
f64-2d/raw/auto0-ref 7c53a8e8d5c4e19cfe7feb1a0159dbe367f4aba1e9e3ff47417903f755abeef3
f64-2d/raw/joint 4b52fe27672e50dc44d63d87a2f9946119d5831b48c92ae1706f37d761836f1f
f64-2d/raw/joint0 4b52fe27672e50dc44d63d87a2f9946119d5831b48c92ae1706f37d761836f1f
f64-2d/fp16/dense b7ef28fd41a2bb90b5d660091556f607a6a1ba9e5b7ecb6c8f95793f7dd44aea
f64-2d/fp16/bitmap 6a7b864f2641d76af26ae0e24965210227c9544aae9fe2263d98314e5a751f38
f64-2d/fp16/coo 6a8ffdaa1b09383951a34081f92c16b4d04a191852293074a7a5edcf2beb98f9
f64-2d/fp16/csr 488387fa772e4e9d74f9896dae90d607150626cd41c348171e69867ef01e1413
f64-2d/fp16/ef 2b70013213b6acba58eb75727b2375e8d7164fbee404b1c94a2f583815feed93
f64-2d/fp16/golomb 59cf2deb07943b75984d2b01dff9ad7b9c0a4404d2869944c96f4650dbaa4d16
f64-2d/fp16/support 8e0f53c560807ee17aa31d24354d821e63bbaf844fbf6828ae6fa43d358f3402
f64-2d/fp16/auto 2b70013213b6acba58eb75727b2375e8d7164fbee404b1c94a2f583815feed93
f64-2d/fp16/auto0 2b70013213b6acba58eb75727b2375e8d7164fbee404b1c94a2f583815feed93
f64-2d/fp16/auto0-ref 8e0f53c560807ee17aa31d24354d821e63bbaf844fbf6828ae6fa43d358f3402
f64-2d/fp16/joint 926b4409ef9bb79373c64c225b6e821896f80acbe66e17a1a0e46d89a10ba875
f64-2d/fp16/joint0 926b4409ef9bb79373c64c225b6e821896f80acbe66e17a1a0e46d89a10ba875
f64-2d/int8/dense 6d262934f9f92e8c390e5a22a61aa3f0b1f392285b7bb05f15adc7aff2096866
f64-2d/int8/bitmap cf2186627895a42c6c149705c1f843d8a30ac7287fe5f605816bf34a7be7fcb1
f64-2d/int8/coo d27765cb2645aebca69a7a6dbf8dcd9a56d99ad7fbe2f4df56ba8c74155ed133
f64-2d/int8/csr ea931726a897fbea3b95466b4128998c5cde35554beac39963789734bad84969
f64-2d/int8/ef e39666394902886b5bb7407bdd2f80734b4b872b4706f3464b16b5e5796be809
f64-2d/int8/golomb 8e31ca4fce8781aca934e4f224d1bac541596bb029a891b8669eb9d2cae3b4dc
f64-2d/int8/support d562e7f4647c71a81e4932369a9bd8a9b6be017832b740da97732a03d1ee873a
f64-2d/int8/auto e39666394902886b5bb7407bdd2f80734b4b872b4706f3464b16b5e5796be809
f64-2d/int8/auto0 e39666394902886b5bb7407bdd2f80734b4b872b4706f3464b16b5e5796be809
f64-2d/int8/auto0-ref d562e7f4647c71a81e4932369a9bd8a9b6be017832b740da97732a03d1ee873a
f64-2d/int8/joint 2e52617ed768860a5a6b630f73fe946531f14f901fcd4b0c0de500a4254dd23f
f64-2d/int8/joint0 2e52617ed768860a5a6b630f73fe946531f14f901fcd4b0c0de500a4254dd23f
f64-3d/raw/dense d432d78a40136ffbffa14df661f9ab19b3b3a9b7468c51f3f1e139051a1b1773
f64-3d/raw/bitmap 35efdb34ac49c01f65664ea596616eb13a8939621082ec94eb0b01990d271d35
f64-3d/raw/coo 522114ee2944aee7b4ded2e329ce475d35c5e9ba8ab1d8a167034ee644d37041
f64-3d/raw/csr 197c7f601715ad2cd113517e1da3096913dc5fc44a13a0dca02da7779b12ba84
f64-3d/raw/ef ebaaf4c0d97cbeb904fb01d9cb388b650e11969bc1c11291a7527617bed2990f
f64-3d/raw/golomb 5aa578742c91493af0b46e6b11d32d79927cee3e4ede8e98d904fca36ad90b7b
f64-3d/raw/support cc274c5b2358d4b109443580035270d0ac57433d77781841fb27fe169dba54f9
f64-3d/raw/auto d432d78a40136ffbffa14df661f9ab19b3b3a9b7468c51f3f1e139051a1b1773
f64-3d/raw/auto0 35efdb34ac49c01f65664ea596616eb13a8939621082ec94eb0b01990d271d35
f64-3d/raw/auto0-ref cc274c5b2358d4b109443580035270d0ac57433d77781841fb27fe169dba54f9
f64-3d/raw/joint d432d78a40136ffbffa14df661f9ab19b3b3a9b7468c51f3f1e139051a1b1773
f64-3d/raw/joint0 04bda99a33e08566be7d521b56885ee6c2c2f6e9d0be4334af5ff380e8fdca28
f64-3d/fp16/dense a23ead13f9585a07996ca8f6d25576be287ee325ae81e9f10bb3f22101255978
f64-3d/fp16/bitmap 567c28555a817aae832f281050a220827ff57af9e2664373da067674fb419bec
f64-3d/fp16/coo e1c597db0485f9aa000058d983c9ad6489d865b523fbe6faab758a8be094de6a
f64-3d/fp16/csr 61f69d39265762704d04398ffeec86360fd1069c66906477713fb397ea117110
f64-3d/fp16/ef 7cd837d9b9a92e1792be61fe2a5663f634cee6910dc033adec9fc165b1c64564
f64-3d/fp16/golomb 26887d590f26a49f0a8d8a67c300ae020dd0e9bcb7317bc33155996ac776b4ed
f64-3d/fp16/support b486f658d903de32b9b21804323216bbe6140cc2a497edd78edb7f18991299c5
f64-3d/fp16/auto a23ead13f9585a07996ca8f6d25576be287ee325ae81e9f10bb3f22101255978
f64-3d/fp16/auto0 567c28555a817aae832f281050a220827ff57af9e2664373da067674fb419bec
f64-3d/fp16/auto0-ref b486f658d903de32b9b21804323216bbe6140cc2a497edd78edb7f18991299c5
f64-3d/fp16/joint a23ead13f9585a07996ca8f6d25576be287ee325ae81e9f10bb3f22101255978
f64-3d/fp16/joint0 d199e0d22055a0eb16b73180cb4c378913d7e049b1387116ae53e77675c48b3a
f64-3d/int8/dense 1841a320de7ee7b024b07933e89cc50cbd635341335a213029d02ba79d04f6c4
f64-3d/int8/bitmap 8e33679fa5f29f7b1e120869b9b7655d69aaf54a8af4f9769fb3cd09fede718a
f64-3d/int8/coo 418ec0691effd049aef00752172844fc4ce911f00c65642ef5804797cb53e081
f64-3d/int8/csr d190a04d889455ee29a917b561f29ba8b5d14cb6091c7e2b995a2aa73252cc4d
f64-3d/int8/ef 1a03997fefbf57d9630e0f14e1ffb199a82b1b85f9130b711e3d9bfd2246544d
f64-3d/int8/golomb a0414ebaed251b11addb5a843d313ceec8326821a119a869fd5f6776d8c55c47
f64-3d/int8/support 18c375d552ab47ae990d9c6534fa9337894ccba883cfd26ae4358ec71c0ac6ea
f64-3d/int8/auto 1841a320de7ee7b024b07933e89cc50cbd635341335a213029d02ba79d04f6c4
f64-3d/int8/auto0 8e33679fa5f29f7b1e120869b9b7655d69aaf54a8af4f9769fb3cd09fede718a
f64-3d/int8/auto0-ref 18c375d552ab47ae990d9c6534fa9337894ccba883cfd26ae4358ec71c0ac6ea
f64-3d/int8/joint 1841a320de7ee7b024b07933e89cc50cbd635341335a213029d02ba79d04f6c4
f64-3d/int8/joint0 12bf1f5a671ddd2857b7f4597ad3bdc6e7c037a9f4de07294d794e39e4720977
f16-2d/raw/dense 79139678315719b03d09b4b412372544811734c81e07a1a009f28a28aadabbf5
f16-2d/raw/bitmap 4ebd826d339f9f20ac179d8cd2b917ec6a9bbc0f4c5376bc545262227126aefa
f16-2d/raw/coo 85482adfb8a5ec5578e32600a971bf8ce7b1e4499305dc316da71963b77ec4b8
f16-2d/raw/csr a34ec896ba02375afce20c405bc3f1700e5cc62933253a070509cd4f7f8cf23a
f16-2d/raw/ef 601bf42a988292c2447de560ff996f4f5471589feea260d7f3759554470f418f
f16-2d/raw/golomb 0060e0208b8967172b017876596064c520a975252c6205a48c5bb4862f3a916a
f16-2d/raw/support 29bcffb3c1f11e075a964b4cd46754564b42af78fbcfacc7745cca8ceaffc6f2
f16-2d/raw/auto 601bf42a988292c2447de560ff996f4f5471589feea260d7f3759554470f418f
f16-2d/raw/auto0 601bf42a988292c2447de560ff996f4f5471589feea260d7f3759554470f418f
f16-2d/raw/auto0-ref 29bcffb3c1f11e075a964b4cd46754564b42af78fbcfacc7745cca8ceaffc6f2
f16-2d/raw/joint 5234425965acd8f1fe7a6f0f5c7c3466f414f2d99acbc6f25fa43b9463ada0e7
f16-2d/raw/joint0 5234425965acd8f1fe7a6f0f5c7c3466f414f2d99acbc6f25fa43b9463ada0e7
f16-2d/fp16/dense 2058565b9d225254da373904faaa2f6dafb89147d8ba4bd9c487a97dba94e627
f16-2d/fp16/bitmap 9b71c2f07469854b3751063f12242907f1f2c0d568f5ad4504a4cd1549eb6048
f16-2d/fp16/coo fa06c6af87d3acdb34432a90470b9079fe9ba429ef97758fd7319f3ee5f4f673
f16-2d/fp16/csr d23d58b4f438ee9feac7925d288374fc922cd401b721adfd0fe337137196e403
f16-2d/fp16/ef 53f0c79f79bd95f02478367114aad22824c623956becdbfb4fdd874dac1eafbd
f16-2d/fp16/golomb 8744271b49aee179379d69c8c404dcd433641ba373077bd73d3977cf8fc61db6
f16-2d/fp16/support 5898d94971feee20040c6da831d78ef5ac4b494f9c499f6b8c3e1f9347e7d217
f16-2d/fp16/auto 53f0c79f79bd95f02478367114aad22824c623956becdbfb4fdd874dac1eafbd
f16-2d/fp16/auto0 53f0c79f79bd95f02478367114aad22824c623956becdbfb4fdd874dac1eafbd
f16-2d/fp16/auto0-ref 5898d94971feee20040c6da831d78ef5ac4b494f9c499f6b8c3e1f9347e7d217
f16-2d/fp16/joint 7265a4d0a7c9281c6f27e9dc62f5436b6096a34ec0de804eb51d5dfba939afdf
f16-2d/fp16/joint0 7265a4d0a7c9281c6f27e9dc62f5436b6096a34ec0de804eb51d5dfba939afdf
f16-2d/int8/dense e4133ff0a44007ed39a1c1a582ab2346a24a88bab2027f390381ff7485a6ba15
f16-2d/int8/bitmap c259fe2a6aad7aa629e1e485d8ab5f999f88d2f83df82414f7c8e84bcc4f25a5
f16-2d/int8/coo a93e8230e21edb258f3d6d2293888f6372a3f63c38600dcd7b28dcf87f4259e7
f16-2d/int8/csr 343c70cb9f9db85f29f27fab2a24734ddff8fd63647512b182d1547435bba229
f16-2d/int8/ef 938cfd18080c882c7c30c72f03a649c6a55c875c570d25fc104955c60856af50
f16-2d/int8/golomb 0b26cc7797b4de5265c3d1872a782e26a03834d0711bd5e5a9f1bf3e8ec9c84c
f16-2d/int8/support 4ab2bfe437feebebd3d635eb8fd83cb364b17af87d246a436bd58eb2c346fce7
f16-2d/int8/auto 938cfd18080c882c7c30c72f03a649c6a55c875c570d25fc104955c60856af50
f16-2d/int8/auto0 938cfd18080c882c7c30c72f03a649c6a55c875c570d25fc104955c60856af50
f16-2d/int8/auto0-ref 4ab2bfe437feebebd3d635eb8fd83cb364b17af87d246a436bd58eb2c346fce7
f16-2d/int8/joint 377212fa0bacd80994e3c5753fb3ce5b2e99198008b9ea9caa3c165cda3cf844
f16-2d/int8/joint0 377212fa0bacd80994e3c5753fb3ce5b2e99198008b9ea9caa3c165cda3cf844
f16-4d-full/raw/dense b61de00c3932d680526031d348064ee5ed944fa1154192fd115eda58249e558d
f16-4d-full/raw/bitmap bcd98112959c662dfd02cf06f5614a4a9f864a6b9bd4c5779c4c9603a3d53eda
f16-4d-full/raw/coo 915f1beb9e97fa18ecc41497ab9039fd63189e8704a6c0e20dcf518e7d2ffa8f
f16-4d-full/raw/csr 64c417027539795238214dee2f615841a58d0a98696f1444ae3011cf3b6d0b84
f16-4d-full/raw/ef ee5df50f8b9cf81b5d2935c09f4b83f5dd6f6d121b5591380f9762589b3f6c7c
f16-4d-full/raw/golomb 7dee6271c87503f16e323f87cb7a7c9b01a2f92a882427d52a2d9390fff6c28c
f16-4d-full/raw/support de449ac797321995c73bd339bdd1d125dd3db845f412efa2ef3572732188ceb7
f16-4d-full/raw/auto b61de00c3932d680526031d348064ee5ed944fa1154192fd115eda58249e558d
f16-4d-full/raw/auto0 b61de00c3932d680526031d348064ee5ed944fa1154192fd115eda58249e558d
f16-4d-full/raw/auto0-ref b61de00c3932d680526031d348064ee5ed944fa1154192fd115eda58249e558d
f16-4d-full/raw/joint b61de00c3932d680526031d348064ee5ed944fa1154192fd115eda58249e558d
f16-4d-full/raw/joint0 b61de00c3932d680526031d348064ee5ed944fa1154192fd115eda58249e558d
f16-4d-full/fp16/dense ed2b484e7ae35eb57b11c29441cdf5d8a67f682de01084cc3d4c6d5937700c03
f16-4d-full/fp16/bitmap 98ceeb8ba005237132fa89bf3afc5194f6a7d374d7b7fea88c712155d2cc3f77
f16-4d-full/fp16/coo a22cae2b282f9a551965144e90ac877d4c8b3d48e697508019c8892aded78970
f16-4d-full/fp16/csr c30b01913e5cbe87a541cebc5457a4323d6ebf84e184ed1ca81eb1d4f1c2c696
f16-4d-full/fp16/ef b28b99e30c6d4e0198eb017e8e44fb57c8814b15819ccdfdadbe1d55a1907188
f16-4d-full/fp16/golomb 8269808df1514def756429ec75998960e374690dfadd36605fe8afbdc63e923d
f16-4d-full/fp16/support b61d48f9a94871030b8fdb94a2353123c9ac8081933fc1598d3300e2060b578d
f16-4d-full/fp16/auto ed2b484e7ae35eb57b11c29441cdf5d8a67f682de01084cc3d4c6d5937700c03
f16-4d-full/fp16/auto0 ed2b484e7ae35eb57b11c29441cdf5d8a67f682de01084cc3d4c6d5937700c03
f16-4d-full/fp16/auto0-ref ed2b484e7ae35eb57b11c29441cdf5d8a67f682de01084cc3d4c6d5937700c03
f16-4d-full/fp16/joint ed2b484e7ae35eb57b11c29441cdf5d8a67f682de01084cc3d4c6d5937700c03
f16-4d-full/fp16/joint0 ed2b484e7ae35eb57b11c29441cdf5d8a67f682de01084cc3d4c6d5937700c03
f16-4d-full/int8/dense 55ec3abd5a6e91352ae749a8bf538aceea89bbbdd82a282b8480a69a7ed6d06e
f16-4d-full/int8/bitmap d0c59ff35ffd39fcd19b6ff13bd91e98b1e4a5594c64e93144d9cc303f0ce257
f16-4d-full/int8/coo 1f6aef9133b2da9f531a311035bf5f8e0aa8ee7811d859d0c13c17e407cb7d1c
f16-4d-full/int8/csr e22b5b8f8b55538ab83988b5b56118c54dc389f0e624648a6c58b8bbb14e197f
f16-4d-full/int8/ef 6b62feec434a9cb70407f3b0fb921462517c99c6ad9e7d2ebbcd8cc2107eaa86
f16-4d-full/int8/golomb 4a0bf92a33bf07683809c74c8d129e100abc2b69dce3434a4f789fedcddc03dc
f16-4d-full/int8/support d8c56de3c58bfcb82a1984c9375132811fa63bbe7e3c1c45c611b82143398c9d
f16-4d-full/int8/auto 55ec3abd5a6e91352ae749a8bf538aceea89bbbdd82a282b8480a69a7ed6d06e
f16-4d-full/int8/auto0 55ec3abd5a6e91352ae749a8bf538aceea89bbbdd82a282b8480a69a7ed6d06e
f16-4d-full/int8/auto0-ref 55ec3abd5a6e91352ae749a8bf538aceea89bbbdd82a282b8480a69a7ed6d06e
f16-4d-full/int8/joint 55ec3abd5a6e91352ae749a8bf538aceea89bbbdd82a282b8480a69a7ed6d06e
f16-4d-full/int8/joint0 f4436e2697c288ba817e90e51e0b3f7ad6030dc4fc95289baeaaffe80c21f98a
i64-2d/raw/dense 55e2d4ccdced1dd84134b0a58b5b8de48c930269c2a538cd861326dc3d0b3255
i64-2d/raw/bitmap c770b88fffb941f254d146b4ddcdd2fe355e63b98dba8435e3eb86a48090bc42
i64-2d/raw/coo 71dec20a663ce68e87e4b0f63bd25f55f9a205c00e81b04b10d61ef9a1fdef1d
i64-2d/raw/csr ab744a7ced6641b7db8e0af9ce63124c43bb6b886dae0b76c5ff6d8fa67890d6
i64-2d/raw/ef 8320c9c52794c3b648e40dcffb10a21ebca036a6ddac4aac4a7fa3c937cd3e32
i64-2d/raw/golomb 37b73ac97efdcc303750871aab56abedb3415f22e6e5d0e64ad4cd2b45c26b66
i64-2d/raw/support 73a0ae57aa478b25beaa85d754489fce1fdd7826455d6a46b0602fb6b5185985
i64-2d/raw/auto 55e2d4ccdced1dd84134b0a58b5b8de48c930269c2a538cd861326dc3d0b3255
i64-2d/raw/auto0 55e2d4ccdced1dd84134b0a58b5b8de48c930269c2a538cd861326dc3d0b3255
i64-2d/raw/auto0-ref 55e2d4ccdced1dd84134b0a58b5b8de48c930269c2a538cd861326dc3d0b3255
i64-2d/raw/joint 55e2d4ccdced1dd84134b0a58b5b8de48c930269c2a538cd861326dc3d0b3255
i64-2d/raw/joint0 55e2d4ccdced1dd84134b0a58b5b8de48c930269c2a538cd861326dc3d0b3255
i32-1d/raw/dense 1bbe225149e4adcf7b304847c8453b4b67bd7ddf0763555958a6a8577d055db3
i32-1d/raw/bitmap 1100be1e5af6da99d921247bae005970e4f3878f7e51e75b96cfca2f78c97e16
i32-1d/raw/coo e7adb5b6edb92f33c7446eac7319452014739f2c8bdd7607c483f0e5dd10cf82
i32-1d/raw/csr 08bf4f9c6ef2ba96405dff39422c5b2c676998288d079f05d09ab171fb1951bb
i32-1d/raw/ef 548a297f51881107826ad9a1a1cfef8fe04559eb19979295f1a138bfaeded2ee
i32-1d/raw/golomb a089a48f092ca28cd91a7d782fcebb5fab8e589d3ca4d71fc1d699e1271f4eb7
i32-1d/raw/support 5c55c2904ed204585ad12fe59bfd729f6b47604036f442a62dc3b8e937ecbe0c
i32-1d/raw/auto 1bbe225149e4adcf7b304847c8453b4b67bd7ddf0763555958a6a8577d055db3
i32-1d/raw/auto0 1bbe225149e4adcf7b304847c8453b4b67bd7ddf0763555958a6a8577d055db3
i32-1d/raw/auto0-ref 1bbe225149e4adcf7b304847c8453b4b67bd7ddf0763555958a6a8577d055db3
i32-1d/raw/joint 1bbe225149e4adcf7b304847c8453b4b67bd7ddf0763555958a6a8577d055db3
i32-1d/raw/joint0 1bbe225149e4adcf7b304847c8453b4b67bd7ddf0763555958a6a8577d055db3
u8-3d/raw/dense fc4aef6ae1187bedca5be7e86930546fac378273213c0c391b1b2f04b7905e82
u8-3d/raw/bitmap 68247a4700e69732021c1d6672c4f73a85979c00f86025b0104c40f56b63a61f
u8-3d/raw/coo 9b2c46c859100bbf163d8607009435c137a5ca1c22060c8dafc294442484ffee
u8-3d/raw/csr 634771af469493920be3436ef5b21f16e704605d3f6bcf637a8e2a246079da38
u8-3d/raw/ef e8c7e27826f300c2107dcd02dc295f89ea1a92806a87a926425998df4230873a
u8-3d/raw/golomb e72c119020c023643dccad6bf6909e8fe881cc02561effc8f4e77a4cd6d0841c
u8-3d/raw/support 436523564e2ac7ef4445b7017fb020a3a1938cd21d10ce90d9252fff9aa15d92
u8-3d/raw/auto fc4aef6ae1187bedca5be7e86930546fac378273213c0c391b1b2f04b7905e82
u8-3d/raw/auto0 fc4aef6ae1187bedca5be7e86930546fac378273213c0c391b1b2f04b7905e82
u8-3d/raw/auto0-ref fc4aef6ae1187bedca5be7e86930546fac378273213c0c391b1b2f04b7905e82
u8-3d/raw/joint fc4aef6ae1187bedca5be7e86930546fac378273213c0c391b1b2f04b7905e82
u8-3d/raw/joint0 fc4aef6ae1187bedca5be7e86930546fac378273213c0c391b1b2f04b7905e82
bool-2d/raw/dense 410d445fda2675847f19662a987ce04a583b9a2eb1c21d8d08bd29a948860ede
bool-2d/raw/bitmap 79e4c7bf2f48bfd727099982aa69c217afe94612b9394e6ed79014254e92da79
bool-2d/raw/coo dbfe4f35094f5da390502ef2e6132eb06a4c06b58cd7b6b8057457393a9a0a7b
bool-2d/raw/csr e72df3d2a3bb95e1e7a59a112a2c5b38830c0c8a4e542a52610e91d7645eee03
bool-2d/raw/ef ce0f3cad5de28a0aa43e8cf0c7732501db1cc20c9fc6e1be4dbdab12dcbafd2c
bool-2d/raw/golomb 7ffd9e3703c09a2814068d1f1e7f7983fcbf5c6ed53b36d70b88ca3a1a363252
bool-2d/raw/support d8ae91032a5b3b20c628dabd7dc92ed3a809b73fd308e6815de10aae829ae47c
bool-2d/raw/auto 410d445fda2675847f19662a987ce04a583b9a2eb1c21d8d08bd29a948860ede
bool-2d/raw/auto0 410d445fda2675847f19662a987ce04a583b9a2eb1c21d8d08bd29a948860ede
bool-2d/raw/auto0-ref 410d445fda2675847f19662a987ce04a583b9a2eb1c21d8d08bd29a948860ede
bool-2d/raw/joint 410d445fda2675847f19662a987ce04a583b9a2eb1c21d8d08bd29a948860ede
bool-2d/raw/joint0 410d445fda2675847f19662a987ce04a583b9a2eb1c21d8d08bd29a948860ede
bool-1d-full/raw/dense 8d375c053204d537b0cb44b21d390a3c6fa54c8515a70b29e44e1a7adaf11d42
bool-1d-full/raw/bitmap e571ba44abe3bca248bc07693a732f66971448580c9c546cc05e64811d362230
bool-1d-full/raw/coo 2a0f6f755521ee24ab07d90757360eb70a4d76d0622754373fc0cb75b32e9819
bool-1d-full/raw/csr 028f731ada4a84cd4ad15f47426aeea3f033f8cfb08cec9b97cffb0bb0bda503
bool-1d-full/raw/ef 1f1ed004384635e51db2c1b540ece1d1ff83af42c8f1a3facec5f6373d3f0203
bool-1d-full/raw/golomb 59a453c954b334cdd516d35e12c80b03b1b16e7b9f1125763978e8dfa87fa036
bool-1d-full/raw/support 64df9c7c0e157db48108d887f6f099b81c1f45d6947a775f0f91d89a355e90fe
bool-1d-full/raw/auto 8d375c053204d537b0cb44b21d390a3c6fa54c8515a70b29e44e1a7adaf11d42
bool-1d-full/raw/auto0 8d375c053204d537b0cb44b21d390a3c6fa54c8515a70b29e44e1a7adaf11d42
bool-1d-full/raw/auto0-ref 8d375c053204d537b0cb44b21d390a3c6fa54c8515a70b29e44e1a7adaf11d42
bool-1d-full/raw/joint 8d375c053204d537b0cb44b21d390a3c6fa54c8515a70b29e44e1a7adaf11d42
bool-1d-full/raw/joint0 8d375c053204d537b0cb44b21d390a3c6fa54c8515a70b29e44e1a7adaf11d42
"""


def _golden() -> dict[str, str]:
    rows = [line.split() for line in GOLDEN.strip().splitlines()]
    return {key: digest for key, digest in rows}


def test_golden_table_is_complete() -> None:
    assert sorted(digest_table()) == sorted(_golden())


@pytest.mark.parametrize("case", [c.name for c in CASES])
def test_payloads_match_the_frozen_bytes(case: str) -> None:
    golden = _golden()
    actual = {k: v for k, v in digest_table().items() if k.startswith(case + "/")}
    assert actual
    mismatched = sorted(k for k, v in actual.items() if golden.get(k) != v)
    assert not mismatched, f"payload bytes changed: {mismatched}"


def test_golden_payloads_round_trip_and_are_canonical() -> None:
    for e in golden_payloads():
        payload = e.payload
        out = decode_array(payload, reference=e.reference, joint_coded=e.joint_coded)
        assert out.shape == e.x.shape and out.dtype == e.x.dtype.newbyteorder("=")
        if e.values == "raw":
            native = np.ascontiguousarray(e.x, dtype=e.x.dtype.newbyteorder("="))
            assert out.tobytes() == native.tobytes(), e.key
        codec = payload_codec(payload)
        if e.codec is not None:
            assert codec == e.codec, e.key
            if e.values == "raw":
                size = encoded_nbytes(e.x, e.codec, values="raw", reference=e.reference)
                assert size == len(payload), e.key
        if codec != "joint":
            again = encode_array(
                out,
                codec,
                values=e.values,
                reference=e.reference if codec == "support" else None,
                rng=np.random.default_rng(0),
            )
            assert again == payload, e.key
