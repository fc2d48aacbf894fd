//! PyTorch's tensor printing, reproduced: each case of tools/reference/pyfmt_cases.py, built the
//! same way from the same seed, prints exactly what PyTorch 2.13 printed (tests/golden/pyfmt_cases.txt).

mod common;

use initlab::base::parity::pyfmt;
use tch::{Device, Kind, Tensor};

fn golden() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/pyfmt_cases.txt"
    ))
    .unwrap();
    let mut cases = Vec::new();
    for block in text.split("=== ").skip(1) {
        let (name, body) = block.split_once('\n').unwrap();
        cases.push((name.to_string(), body.trim_end_matches('\n').to_string()));
    }
    cases
}

fn f32s(v: &[f32]) -> Tensor {
    Tensor::from_slice(v)
}

#[test]
fn prints_like_pytorch() {
    let _g = common::seed_lock();
    let opts = (Kind::Float, Device::Cpu);
    let mut ours: Vec<(&str, String)> = vec![
        (
            "arange2000_div7",
            pyfmt::tensor(&(Tensor::arange(2000, opts) / 7.0)),
        ),
        (
            "arange30_div3",
            pyfmt::tensor(&(Tensor::arange(30, opts) / 3.0)),
        ),
        ("mixed_widths", pyfmt::tensor(&f32s(&[1.5, -0.25, 10.0]))),
        (
            "int_matrix",
            pyfmt::tensor(&f32s(&[1.0, 2.0, 3.0, 4.0]).view([2, 2])),
        ),
        ("sci_small", pyfmt::tensor(&f32s(&[1.0e-5, 1.0]))),
        (
            "requires_grad",
            pyfmt::tensor(&f32s(&[0.5]).set_requires_grad(true)),
        ),
        ("zeros", pyfmt::tensor(&Tensor::zeros([3], opts))),
        (
            "nan_inf",
            pyfmt::tensor(&f32s(&[f32::NAN, 1.5, f32::INFINITY, f32::NEG_INFINITY])),
        ),
        ("big_ints", pyfmt::tensor(&f32s(&[1.0e9, 2.0]))),
        ("scalar", pyfmt::tensor(&Tensor::from(3.25f32))),
    ];
    tch::manual_seed(0);
    ours.push((
        "param_randn_10x256",
        pyfmt::parameter(&Tensor::randn([10, 256], opts).set_requires_grad(true)),
    ));
    ours.push((
        "param_randn_300x4_x100",
        pyfmt::parameter(&(Tensor::randn([300, 4], opts) * 100.0).set_requires_grad(true)),
    ));
    ours.push((
        "randn_2x3x4",
        pyfmt::tensor(&Tensor::randn([2, 3, 4], opts)),
    ));
    ours.push(("randn_40x40", pyfmt::tensor(&Tensor::randn([40, 40], opts))));

    let golden = golden();
    assert_eq!(golden.len(), ours.len(), "number of cases");
    for ((gname, gtext), (name, text)) in golden.iter().zip(&ours) {
        assert_eq!(gname, name);
        assert_eq!(
            &text, &gtext,
            "case {name}:\n--- ours\n{text}\n--- PyTorch\n{gtext}"
        );
    }
}
