// Included by `build.rs` (which records the kernel families that have a complete golden set) and
// by `src/base/mkl.rs` (which re-exports it for the tests and `initlab doctor`): one list for both.

/// The files of one golden set (`tests/golden/<kernel family>/`), all made by
/// `tools/reference/run.sh` on a CPU of that family.
pub const GOLDEN_SET_FILES: [&str; 5] = [
    "lab09_2_mnist_nn.txt",
    "lab09_3_mnist_nn_xavier.txt",
    "lab09_4_mnist_nn_deep.txt",
    "parity_details.json",
    "init_zoo.json",
];
