// Included by `build.rs` (which records the complete golden sets) and by
// `src/base/parity/mkl.rs` (for the tests and `initlab doctor`): one list for both.

/// The files of one golden set (`tests/golden/<oneMKL path>/<kernel family>/`), all made by
/// `tools/reference/run.sh` on a CPU of that family under that oneMKL path.
pub const GOLDEN_SET_FILES: [&str; 5] = [
    "lab09_2_mnist_nn.txt",
    "lab09_3_mnist_nn_xavier.txt",
    "lab09_4_mnist_nn_deep.txt",
    "parity_details.json",
    "init_zoo.json",
];
