"""Golden values of the torch.nn.init functions added for issue 4 (<golden set>/init_zoo.json, the golden set being
$INITLAB_GOLDEN_DIR or tests/golden/<oneMKL path>/<kernel family>: orthogonal_'s QR goes through oneMKL's LAPACK, whose kernels
depend on the CPU's instruction sets).

Each case: torch.manual_seed(0), then the initializer on torch.empty(shape); values as f32 bit patterns.
"""
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab_notebooks as ln  # noqa: E402

OUT = os.path.join(ln.GOLDEN_DIR, "init_zoo.json")


def hexes(t):
    return ["0x%08x" % struct.unpack("<I", struct.pack("<f", v))[0] for v in t.detach().reshape(-1).tolist()]


def case(name, shape, fill):
    torch.manual_seed(0)
    t = torch.empty(shape)
    fill(t)
    return name, {"shape": list(shape), "hex": hexes(t)}


def main():
    init = torch.nn.init
    cases = dict([
        case("trunc_normal_(0,1,-2,2) 6x5", (6, 5), lambda t: init.trunc_normal_(t)),
        case("trunc_normal_(0.5,0.2,0,1) 6x5", (6, 5), lambda t: init.trunc_normal_(t, 0.5, 0.2, 0.0, 1.0)),
        case("trunc_normal_(0,1,1,3) 6x5", (6, 5), lambda t: init.trunc_normal_(t, 0.0, 1.0, 1.0, 3.0)),
        case("orthogonal_(gain 1) 6x4", (6, 4), lambda t: init.orthogonal_(t)),
        case("orthogonal_(gain 2) 3x7", (3, 7), lambda t: init.orthogonal_(t, gain=2.0)),
        case("sparse_(0.5, 0.01) 6x5", (6, 5), lambda t: init.sparse_(t, 0.5, 0.01)),
        case("eye_ 3x5", (3, 5), lambda t: init.eye_(t)),
        case("uniform_(-1/sqrt(5),1/sqrt(5)) 4x5", (4, 5), lambda t: init.uniform_(t, -1 / 5 ** 0.5, 1 / 5 ** 0.5)),
    ])
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, indent=1)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
