//! PyTorch's tensor printing (`torch/_tensor_str.py`, default print options), so that a port can
//! print a parameter exactly as a notebook cell shows it:
//!
//! ```text
//! Parameter containing:
//! tensor([[-0.0215, -0.0894,  0.0598,  ...,  0.0200,  0.0203,  0.1212],
//!         ...
//!        requires_grad=True)
//! ```
//!
//! Rules reproduced: summarisation past 1000 elements (3 edge items per dimension, `...`), 4
//! decimals, one width for all elements chosen from the (summarised) finite non-zero values,
//! scientific notation when max/min > 1000, max > 1e8 or min < 1e-4, integer mode (`1.`) when
//! every value is whole, 80-column line wrapping of long rows, and the `requires_grad=True` suffix.
//! tch's own `Tensor::print` uses libtorch's C++ format, which looks different.

use tch::{Kind, Tensor};

const PRECISION: usize = 4;
const THRESHOLD: usize = 1000;
const EDGE_ITEMS: usize = 3;
const LINE_WIDTH: usize = 80;

/// A tensor's values as `f64` with its shape (a host copy for formatting).
struct Values {
    shape: Vec<usize>,
    data: Vec<f64>,
}

impl Values {
    fn of(tensor: &Tensor) -> Values {
        let shape: Vec<usize> = tensor.size().iter().map(|&d| d as usize).collect();
        let flat = tensor.detach().to_kind(Kind::Double).reshape([-1]);
        let data = Vec::<f64>::try_from(&flat).unwrap_or_default();
        Values { shape, data }
    }

    fn stride(&self) -> usize {
        self.shape[1..].iter().product()
    }

    fn sub(&self, i: usize) -> Values {
        let s = self.stride();
        Values {
            shape: self.shape[1..].to_vec(),
            data: self.data[i * s..(i + 1) * s].to_vec(),
        }
    }

    /// Indices kept along the first dimension (all, or the edge items when summarising).
    fn kept(&self, summarize: bool) -> (Vec<usize>, bool) {
        let n = self.shape[0];
        if summarize && n > 2 * EDGE_ITEMS {
            ((0..EDGE_ITEMS).chain(n - EDGE_ITEMS..n).collect(), true)
        } else {
            ((0..n).collect(), false)
        }
    }

    /// `get_summarized_data`: the values that are printed, used to choose the format.
    fn summarized(&self) -> Vec<f64> {
        if self.shape.is_empty() {
            return self.data.clone();
        }
        let (kept, _) = self.kept(true);
        if self.shape.len() == 1 {
            return kept.iter().map(|&i| self.data[i]).collect();
        }
        kept.iter()
            .flat_map(|&i| self.sub(i).summarized())
            .collect()
    }
}

/// `_Formatter`: how every element of one tensor is written.
struct Formatter {
    int_mode: bool,
    sci_mode: bool,
    max_width: usize,
}

impl Formatter {
    fn new(values: &[f64]) -> Formatter {
        let mut f = Formatter {
            int_mode: true,
            sci_mode: false,
            max_width: 1,
        };
        let finite: Vec<f64> = values
            .iter()
            .copied()
            .filter(|v| v.is_finite() && *v != 0.0)
            .collect();
        if finite.is_empty() {
            return f;
        }
        let min = finite.iter().map(|v| v.abs()).fold(f64::INFINITY, f64::min);
        let max = finite.iter().map(|v| v.abs()).fold(0.0f64, f64::max);
        f.int_mode = finite.iter().all(|v| v.ceil() == *v);
        if f.int_mode {
            if max / min > 1000.0 || max > 1.0e8 {
                f.sci_mode = true;
                f.max_width = finite.iter().map(|v| sci(*v).len()).max().unwrap_or(1);
            } else {
                f.max_width = finite
                    .iter()
                    .map(|v| format!("{v:.0}").len() + 1)
                    .max()
                    .unwrap_or(1);
            }
        } else if max / min > 1000.0 || max > 1.0e8 || min < 1.0e-4 {
            f.sci_mode = true;
            f.max_width = finite.iter().map(|v| sci(*v).len()).max().unwrap_or(1);
        } else {
            f.max_width = finite
                .iter()
                .map(|v| format!("{v:.PRECISION$}").len())
                .max()
                .unwrap_or(1);
        }
        f.max_width = f.max_width.max(1);
        f
    }

    fn format(&self, value: f64) -> String {
        let s = if self.sci_mode {
            sci(value)
        } else if self.int_mode {
            if value.is_finite() {
                format!("{value:.0}.")
            } else {
                py_special(value)
            }
        } else if value.is_finite() {
            format!("{value:.PRECISION$}")
        } else {
            py_special(value)
        };
        format!("{s:>width$}", width = self.max_width)
    }
}

fn py_special(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v > 0.0 {
        "inf".into()
    } else {
        "-inf".into()
    }
}

/// Python's `'{:.4e}'`: mantissa with 4 decimals, exponent signed with at least two digits.
fn sci(v: f64) -> String {
    scientific(v, PRECISION)
}

/// Python's `'{:.<precision>e}'` format: `1.2346e+00`, `-5.000e-07`.
pub fn scientific(v: f64, precision: usize) -> String {
    if !v.is_finite() {
        return py_special(v);
    }
    let s = format!("{v:.precision$e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    format!(
        "{mantissa}e{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.abs()
    )
}

fn vector_str(v: &Values, indent: usize, summarize: bool, f: &Formatter) -> String {
    let element_length = f.max_width + 2;
    let per_line = ((LINE_WIDTH.saturating_sub(indent)) / element_length).max(1);
    let (kept, elided) = v.kept(summarize);
    let mut items: Vec<String> = Vec::new();
    for (k, &i) in kept.iter().enumerate() {
        if elided && k == EDGE_ITEMS {
            items.push(" ...".into());
        }
        items.push(f.format(v.data[i]));
    }
    let lines: Vec<String> = items.chunks(per_line).map(|c| c.join(", ")).collect();
    format!(
        "[{}]",
        lines.join(&format!(",\n{}", " ".repeat(indent + 1)))
    )
}

fn tensor_str(v: &Values, indent: usize, summarize: bool, f: &Formatter) -> String {
    match v.shape.len() {
        0 => f.format(v.data[0]).trim_start().to_string(),
        1 => vector_str(v, indent, summarize, f),
        dim => {
            let (kept, elided) = v.kept(summarize);
            let mut slices = Vec::new();
            for (k, &i) in kept.iter().enumerate() {
                if elided && k == EDGE_ITEMS {
                    slices.push("...".to_string());
                }
                slices.push(tensor_str(&v.sub(i), indent + 1, summarize, f));
            }
            let sep = format!(",{}{}", "\n".repeat(dim - 1), " ".repeat(indent + 1));
            format!("[{}]", slices.join(&sep))
        }
    }
}

/// `repr(tensor)` for a float32 tensor, with `requires_grad=True` when it requires grad.
pub fn tensor(t: &Tensor) -> String {
    let prefix = "tensor(";
    let indent = prefix.len();
    let values = Values::of(t);
    let body = if values.data.is_empty() {
        "[]".to_string()
    } else {
        let summarize = values.data.len() > THRESHOLD;
        let chosen = if summarize {
            values.summarized()
        } else {
            values.data.clone()
        };
        let f = Formatter::new(&chosen);
        tensor_str(&values, indent, summarize, &f)
    };
    let mut out = format!("{prefix}{body}");
    let mut suffixes = Vec::new();
    if t.kind() != Kind::Float {
        suffixes.push(format!("dtype=torch.{}", torch_dtype_name(t.kind())));
    }
    if t.requires_grad() {
        suffixes.push("requires_grad=True".to_string());
    }
    let mut last_line_len = out.len() - out.rfind('\n').map(|i| i + 1).unwrap_or(0) + 2;
    for s in suffixes {
        if last_line_len + s.len() + 2 > LINE_WIDTH {
            out.push_str(&format!(",\n{}{s}", " ".repeat(indent)));
            last_line_len = indent + s.len();
        } else {
            out.push_str(&format!(", {s}"));
            last_line_len += s.len() + 2;
        }
    }
    out.push(')');
    out
}

/// `repr(parameter)`: `Parameter containing:` then [`tensor`].
pub fn parameter(t: &Tensor) -> String {
    format!("Parameter containing:\n{}", tensor(t))
}

fn torch_dtype_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Double => "float64",
        Kind::Half => "float16",
        Kind::BFloat16 => "bfloat16",
        Kind::Int64 => "int64",
        Kind::Int => "int32",
        Kind::Uint8 => "uint8",
        Kind::Bool => "bool",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_vectors_and_matrices() {
        let t = Tensor::from_slice(&[1.5f32, -0.25, 10.0]);
        assert_eq!(tensor(&t), "tensor([ 1.5000, -0.2500, 10.0000])");
        let t = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).view([2, 2]);
        assert_eq!(tensor(&t), "tensor([[1., 2.],\n        [3., 4.]])");
        let t = Tensor::from_slice(&[1.0e-5f32, 1.0]);
        assert_eq!(tensor(&t), "tensor([1.0000e-05, 1.0000e+00])");
        let t = Tensor::from_slice(&[0.5f32]).set_requires_grad(true);
        assert_eq!(tensor(&t), "tensor([0.5000], requires_grad=True)");
    }

    #[test]
    fn long_vectors_wrap_and_summarise() {
        let t = Tensor::arange(2000, (Kind::Float, tch::Device::Cpu)) / 7.0;
        let s = tensor(&t);
        assert!(
            s.starts_with(
                "tensor([0.0000e+00, 1.4286e-01, 2.8571e-01,  ..., 2.8529e+02, 2.8543e+02,"
            ),
            "{s}"
        );
        // 30 values of width 6 wrap after 9 per line (80 columns): 4 lines.
        let t = Tensor::arange(30, (Kind::Float, tch::Device::Cpu)) / 3.0;
        let s = tensor(&t);
        assert_eq!(s.lines().count(), 4, "{s}");
    }
}
