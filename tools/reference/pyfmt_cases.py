"""Golden output of PyTorch's tensor printing for initlab's pyfmt tests.

Writes tests/golden/pyfmt_cases.txt: each case's repr() after a line `=== <name>`.
The Rust test (tests/pyfmt.rs) builds the same tensors, in the same order from the same seed.
"""
import math
import os
import sys

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "golden", "pyfmt_cases.txt")


def cases():
    yield "arange2000_div7", torch.arange(2000, dtype=torch.float32) / 7.0
    yield "arange30_div3", torch.arange(30, dtype=torch.float32) / 3.0
    yield "mixed_widths", torch.tensor([1.5, -0.25, 10.0])
    yield "int_matrix", torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    yield "sci_small", torch.tensor([1.0e-5, 1.0])
    yield "requires_grad", torch.tensor([0.5], requires_grad=True)
    yield "zeros", torch.zeros(3)
    yield "nan_inf", torch.tensor([math.nan, 1.5, math.inf, -math.inf])
    yield "big_ints", torch.tensor([1.0e9, 2.0])
    yield "scalar", torch.tensor(3.25)
    torch.manual_seed(0)
    yield "param_randn_10x256", torch.nn.Parameter(torch.randn(10, 256))
    yield "param_randn_300x4_x100", torch.nn.Parameter(torch.randn(300, 4) * 100)
    yield "randn_2x3x4", torch.randn(2, 3, 4)
    yield "randn_40x40", torch.randn(40, 40)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else OUT
    with open(out, "w") as f:
        for name, t in cases():
            f.write(f"=== {name}\n{t!r}\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
