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

/// The golden file whose ending the lab's report quotes for each golden set (notebook 9-3, the
/// lab's "after").
pub const QUOTED_NOTEBOOK: &str = "lab09_3_mnist_nn_xavier.txt";

/// The last epoch's cost and the accuracy of a notebook's printed output (`Epoch: 0015 cost =
/// 0.007610181`, `Accuracy: 0.9830999970436096`), as printed; `None` when either is missing.
pub fn notebook_ending(text: &str) -> Option<(String, String)> {
    let cost = text
        .lines()
        .filter_map(|l| l.strip_prefix("Epoch: "))
        .filter_map(|l| l.split_once(" cost = "))
        .next_back()?
        .1
        .trim()
        .to_string();
    let accuracy = text
        .lines()
        .find_map(|l| l.strip_prefix("Accuracy: "))?
        .trim()
        .to_string();
    Some((cost, accuracy))
}
