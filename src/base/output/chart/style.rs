//! The look of a series, the same in the PNG charts and on the report page: its colour follows
//! from its label alone ([`series_colours`]: an init scheme keeps its hue in every chart, `deep …`
//! a darker shade of it than `shallow …`), and how its line is drawn ([`Look`]).

use plotters::style::RGBColor;

/// A palette that reads well on white (matplotlib's tab10).
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
];

/// The fixed colour of each init scheme (and of the names the studies give them), so that a
/// scheme looks the same in every chart: N(0,1) blue, torch's default red, Xavier green, He
/// orange, LSUV purple, DBN brown, Glorot's standard pink.
const SCHEME_COLOURS: [(&str, RGBColor); 16] = [
    ("normal", PALETTE[0]),
    ("n(0,1)", PALETTE[0]),
    ("torch-default", PALETTE[1]),
    ("xavier-uniform", PALETTE[2]),
    ("xavier", PALETTE[2]),
    ("kaiming-normal", PALETTE[3]),
    ("he", PALETTE[3]),
    ("lsuv", PALETTE[4]),
    ("dbn", PALETTE[5]),
    ("glorot-standard", PALETTE[6]),
    ("orthogonal", PALETTE[7]),
    ("zeros", PALETTE[8]),
    ("mean-field", PALETTE[9]),
    ("xavier-normal", RGBColor(0, 110, 80)),
    ("kaiming-uniform", RGBColor(180, 90, 0)),
    ("constant", RGBColor(60, 60, 60)),
];

/// A series' identity: its label up to the first ` (`, trimmed and lower-cased.
pub fn identity(label: &str) -> String {
    label
        .split_once(" (")
        .map_or(label, |(head, _)| head)
        .trim()
        .to_lowercase()
}

/// FNV-1a: a hash that stays the same across Rust versions and platforms.
fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Variant `k` of `c`: itself, darker, lighter (then again).
pub fn shade(c: RGBColor, k: usize) -> RGBColor {
    let f = |v: u8, k: usize| match k % 3 {
        0 => v,
        1 => (v as f64 * 0.55).round() as u8,
        _ => (v as f64 + (255.0 - v as f64) * 0.45).round() as u8,
    };
    RGBColor(f(c.0, k), f(c.1, k), f(c.2, k))
}

/// The colours a series of identity `id` may take, best first, and whether the first is fixed
/// (an init scheme's or a layer's) rather than picked by a hash.
///
/// An init scheme named in the label gives the hue and the rest of the label the shade: nothing
/// or `shallow …` the scheme's colour, `deep …` a darker one, anything else a shade picked by a
/// hash.
/// `layer k` takes the k-th palette colour. Any other label starts at a palette colour picked by
/// a hash of it. The list goes on through every palette colour and shade, for collisions.
fn colour_candidates(id: &str) -> (Vec<RGBColor>, bool) {
    let words: Vec<&str> = id.split_whitespace().collect();
    let scheme = words.iter().enumerate().find_map(|(i, w)| {
        SCHEME_COLOURS
            .iter()
            .find(|(name, _)| *w == *name || (*name == "mean-field" && w.starts_with(name)))
            .map(|(_, c)| (i, *c))
    });
    let all_shades = |start: usize| -> Vec<RGBColor> {
        (0..3)
            .flat_map(|k| (0..PALETTE.len()).map(move |j| shade(PALETTE[(start + j) % 10], k)))
            .collect()
    };
    if let Some((at, hue)) = scheme {
        let rest: Vec<&str> = words
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != at)
            .map(|(_, w)| *w)
            .collect();
        let rest = rest.join(" ");
        let first = match rest.split_whitespace().next() {
            None | Some("shallow") => 0,
            Some("deep") => 1,
            _ => (stable_hash(&rest) % 3) as usize,
        };
        let mut c: Vec<RGBColor> = (0..3).map(|k| shade(hue, first + k)).collect();
        c.extend(all_shades((stable_hash(id) % 10) as usize));
        return (c, true);
    }
    if let [w, k] = words[..] {
        if let (true, Ok(k)) = (w == "layer", k.parse::<usize>()) {
            if k >= 1 {
                return (all_shades((k - 1) % PALETTE.len()), true);
            }
        }
    }
    (all_shades((stable_hash(id) % 10) as usize), false)
}

/// A sort key that orders numbers inside text by value: `layer 2` before `layer 10`.
fn natural_key(s: &str) -> Vec<(String, u64)> {
    let mut key: Vec<(String, u64)> = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
        } else {
            if !digits.is_empty() {
                key.push((
                    std::mem::take(&mut text),
                    digits.parse().unwrap_or(u64::MAX),
                ));
                digits.clear();
            }
            text.push(ch);
        }
    }
    key.push((text, digits.parse().unwrap_or(0)));
    key
}

/// The colour of each series of one chart, from its label alone wherever it can be: a run keeps
/// its colour from chart to chart, and the order of the labels does not matter.
///
/// Labels with a fixed colour (init schemes, `layer k`) are served first, the others after, each
/// group in the order of their identities (numbers by value); a label whose preferred colour is taken by another
/// identity in the same chart gets its next candidate (`colour_candidates`). Labels with the
/// same identity get the same colour.
pub fn series_colours<S: AsRef<str>>(labels: &[S]) -> Vec<RGBColor> {
    let ids: Vec<String> = labels.iter().map(|l| identity(l.as_ref())).collect();
    let candidates: Vec<(Vec<RGBColor>, bool)> =
        ids.iter().map(|id| colour_candidates(id)).collect();
    let keys: Vec<(bool, Vec<(String, u64)>)> = ids
        .iter()
        .zip(&candidates)
        .map(|(id, c)| (!c.1, natural_key(id)))
        .collect();
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
    let mut taken: Vec<(&str, RGBColor)> = Vec::new();
    let mut colours = vec![PALETTE[0]; ids.len()];
    for i in order {
        if let Some((_, c)) = taken.iter().find(|(id, _)| *id == ids[i]) {
            colours[i] = *c;
            continue;
        }
        let options = &candidates[i].0;
        let c = options
            .iter()
            .find(|c| !taken.iter().any(|(_, t)| t == *c))
            .or(options.first())
            .copied()
            .unwrap_or(PALETTE[0]);
        taken.push((&ids[i], c));
        colours[i] = c;
    }
    colours
}

/// The colour as CSS writes it: `#1f77b4`.
pub fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// A marker on every point of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// No marker.
    None,
    /// A filled dot.
    Dot,
    /// A ring around the point, for a line drawn over another.
    Ring,
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy)]
pub struct Look {
    /// Its colour.
    pub colour: RGBColor,
    /// Dashed (a line drawn over another, a prediction, a marker line).
    pub dashed: bool,
    /// What marks each point.
    pub marker: Marker,
    /// Line width in pixels.
    pub width: u32,
}

impl Look {
    /// A plain line of width 2 in `colour` with `marker` on its points.
    pub fn line(colour: RGBColor, marker: Marker) -> Look {
        Look {
            colour,
            dashed: false,
            marker,
            width: 2,
        }
    }

    /// A dashed line of width 2 in `colour`, no markers.
    pub fn dashed(colour: RGBColor) -> Look {
        Look {
            colour,
            dashed: true,
            marker: Marker::None,
            width: 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_keeps_its_colour_whatever_else_is_drawn() {
        let lab = [
            "shallow normal",
            "shallow xavier-uniform",
            "shallow kaiming-normal",
            "deep xavier-uniform",
            "deep sigmoid dbn",
        ];
        let study = [
            "shallow normal (mean of 3 seeds; band: min–max)",
            "shallow torch-default",
            "shallow xavier-uniform",
            "shallow kaiming-normal",
            "shallow lsuv",
            "deep normal",
            "deep torch-default",
            "deep xavier-uniform",
            "deep kaiming-normal",
            "deep lsuv",
        ];
        let colour_in = |labels: &[&str], which: &str| {
            let at = labels.iter().position(|l| identity(l) == identity(which));
            at.map(|i| series_colours(labels)[i])
        };
        for which in [
            "shallow normal",
            "shallow xavier-uniform",
            "deep xavier-uniform",
        ] {
            let mut reversed = lab;
            reversed.reverse();
            let c = colour_in(&lab, which);
            assert!(c.is_some());
            assert_eq!(c, colour_in(&reversed, which), "{which}");
            assert_eq!(c, colour_in(&study, which), "{which}");
        }
        // Colours differ within a chart, and a scheme keeps its hue: N(0,1) is blue.
        let colours = series_colours(&study);
        for (i, a) in colours.iter().enumerate() {
            assert!(!colours[..i].contains(a), "{} shares a colour", study[i]);
        }
        assert_eq!(colours[0], PALETTE[0]);
        assert_eq!(colours[5], shade(PALETTE[0], 1));
        // Labels without a scheme: stable under reordering, distinct.
        let glorot = [
            "tanh",
            "tanh N",
            "softsign",
            "softsign N",
            "sigmoid",
            "sigmoid N",
        ];
        let mut shuffled = glorot;
        shuffled.rotate_left(2);
        for which in glorot {
            assert_eq!(
                colour_in(&glorot, which),
                colour_in(&shuffled, which),
                "{which}"
            );
        }
        let colours = series_colours(&glorot);
        for (i, a) in colours.iter().enumerate() {
            assert!(!colours[..i].contains(a), "{} shares a colour", glorot[i]);
        }
        // Layers by depth; beyond the palette, its darker shades in the same order.
        assert_eq!(
            series_colours(&["layer 3 (std 0.1)", "layer 1"]),
            vec![PALETTE[2], PALETTE[0]]
        );
        let layers: Vec<String> = (1..=20).map(|k| format!("layer {k}")).collect();
        let colours = series_colours(&layers);
        assert_eq!(colours[1], PALETTE[1]);
        assert_eq!(colours[11], shade(PALETTE[1], 1));
    }
}
