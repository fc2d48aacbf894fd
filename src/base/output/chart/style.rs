//! The look of a series, the same in the PNG charts and on the report page: its colour follows
//! from the init scheme its label names ([`init_colour`], the one table of init colours: an init
//! keeps its colour in every chart), its line style from the model it names ([`model_dashed`]:
//! `shallow …` solid, `deep …` dashed), and [`series_strokes`] gives both for the series of one
//! chart ([`Look`] is how a line is then drawn).

use plotters::style::RGBColor;

/// Okabe & Ito's colour-blind-safe palette ("Color Universal Design", 2008) without its yellow,
/// which reads badly on white: blue, bluish green, orange, vermillion, reddish purple, sky
/// blue, black.
pub const OKABE_ITO: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(0, 158, 115),
    RGBColor(230, 159, 0),
    RGBColor(213, 94, 0),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// Paul Tol's "muted" colours that stay apart from [`OKABE_ITO`] (also safe for colour-blind
/// readers): indigo, wine, olive, teal, grey, rose.
const TOL_MUTED: [RGBColor; 6] = [
    RGBColor(51, 34, 136),
    RGBColor(136, 34, 85),
    RGBColor(153, 153, 51),
    RGBColor(68, 170, 153),
    RGBColor(120, 120, 120),
    RGBColor(204, 102, 119),
];

/// Every colour a series may take, the Okabe–Ito ones first: labels that name no init and
/// collisions draw from it.
pub const PALETTE: [RGBColor; 13] = [
    OKABE_ITO[0],
    OKABE_ITO[1],
    OKABE_ITO[2],
    OKABE_ITO[3],
    OKABE_ITO[4],
    OKABE_ITO[5],
    OKABE_ITO[6],
    TOL_MUTED[0],
    TOL_MUTED[1],
    TOL_MUTED[2],
    TOL_MUTED[3],
    TOL_MUTED[4],
    TOL_MUTED[5],
];

/// The colour of each init scheme, under every name a label gives it (the command line's, the
/// aliases, the studies'): N(0,1) blue, Xavier bluish green, He/Kaiming orange, torch's default
/// vermillion, LSUV reddish purple, Glorot's standard sky blue, the DBN black (apart from every
/// random init), orthogonal indigo, the rest Tol's muted colours.
const INIT_COLOURS: [(&str, RGBColor); 22] = [
    ("normal", OKABE_ITO[0]),
    ("n(0,1)", OKABE_ITO[0]),
    ("xavier-uniform", OKABE_ITO[1]),
    ("xavier", OKABE_ITO[1]),
    ("glorot-uniform", OKABE_ITO[1]),
    ("kaiming-normal", OKABE_ITO[2]),
    ("he", OKABE_ITO[2]),
    ("he-normal", OKABE_ITO[2]),
    ("torch-default", OKABE_ITO[3]),
    ("lsuv", OKABE_ITO[4]),
    ("glorot-standard", OKABE_ITO[5]),
    // Glorot & Bengio's own names for their two inits (`study glorot`'s legend).
    ("standard", OKABE_ITO[5]),
    ("normalized", OKABE_ITO[1]),
    ("dbn", OKABE_ITO[6]),
    ("orthogonal", TOL_MUTED[0]),
    ("kaiming-uniform", TOL_MUTED[1]),
    ("he-uniform", TOL_MUTED[1]),
    ("xavier-normal", TOL_MUTED[2]),
    ("glorot-normal", TOL_MUTED[2]),
    ("mean-field", TOL_MUTED[3]),
    ("zeros", TOL_MUTED[4]),
    ("constant", TOL_MUTED[5]),
];

/// The colour of a reference line, a label ending in `guide` (the dynamics chart's `10⁻³ guide`):
/// a neutral grey that no init or layer takes.
pub const GUIDE: RGBColor = RGBColor(90, 90, 90);

/// The colour of the init scheme named `word` (any case; `mean-field-w…` counts as
/// `mean-field`), `None` for a word that names no init. The only place that decides an init's
/// colour: the PNG charts, `report.html`, the studies and the dynamics charts all come here.
pub fn init_colour(word: &str) -> Option<RGBColor> {
    let w = word.to_lowercase();
    INIT_COLOURS
        .iter()
        .find(|(name, _)| w == *name || (*name == "mean-field" && w.starts_with(name)))
        .map(|(_, c)| *c)
}

/// Whether a series' line is dashed because of the model its label names: `deep …` dashed,
/// `shallow …` (and anything else) solid, the same in every chart and its legend.
pub fn model_dashed(label: &str) -> bool {
    identity(label).split_whitespace().next() == Some("deep")
}

/// How a series' line is stroked: its colour and whether it is dashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stroke {
    /// Its colour.
    pub colour: RGBColor,
    /// Dashed.
    pub dashed: bool,
}

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

/// The layer number of `layer k` or `linearK` (k ≥ 1).
fn layer_number(words: &[&str]) -> Option<usize> {
    let k = match words {
        ["layer", k] => k.parse::<usize>().ok(),
        [w] => w
            .strip_prefix("linear")
            .and_then(|k| k.parse::<usize>().ok()),
        _ => None,
    };
    k.filter(|k| *k >= 1)
}

/// The colours a series of identity `id` may take, best first, and whether the first is fixed
/// (an init scheme's or a layer's) rather than picked by a hash.
///
/// An init named in the label gives the colour ([`init_colour`]), whatever else the label
/// says (the model shows in the line style); `layer k` and `linearK` take the k-th palette
/// colour; any other label starts at a palette colour picked by a hash of it. The list goes on
/// through the init's shades and then every palette colour and shade, for collisions.
fn colour_candidates(id: &str) -> (Vec<RGBColor>, bool) {
    let words: Vec<&str> = id.split_whitespace().collect();
    let all_shades = |start: usize| -> Vec<RGBColor> {
        let n = PALETTE.len();
        (0..3)
            .flat_map(|k| (0..n).map(move |j| shade(PALETTE[(start + j) % n], k)))
            .collect()
    };
    let hashed = (stable_hash(id) % PALETTE.len() as u64) as usize;
    if let Some(hue) = words.iter().find_map(|w| init_colour(w)) {
        let mut c: Vec<RGBColor> = (0..3).map(|k| shade(hue, k)).collect();
        c.extend(all_shades(hashed));
        return (c, true);
    }
    // A reference line (`10⁻³ guide`) in neutral grey, apart from every data series.
    if words.last() == Some(&"guide") {
        let mut c = vec![GUIDE];
        c.extend(all_shades(hashed));
        return (c, true);
    }
    if let Some(k) = layer_number(&words) {
        return (all_shades((k - 1) % PALETTE.len()), true);
    }
    (all_shades(hashed), false)
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

/// The colour and dash of each series of one chart, from its label alone wherever it can be: a
/// run keeps its look from chart to chart, and the order of the labels does not matter.
///
/// The dash follows the model ([`model_dashed`]). Labels with a fixed colour (inits, layers) are
/// served first, the others after, each group in the order of their identities (numbers by
/// value); a label whose preferred (colour, dash) is taken by another identity in the same chart
/// gets its next candidate colour (`colour_candidates`). Labels with the same identity get the
/// same look.
pub fn series_strokes<S: AsRef<str>>(labels: &[S]) -> Vec<Stroke> {
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
    let mut taken: Vec<(&str, Stroke)> = Vec::new();
    let mut strokes = vec![
        Stroke {
            colour: PALETTE[0],
            dashed: false
        };
        ids.len()
    ];
    for i in order {
        if let Some((_, s)) = taken.iter().find(|(id, _)| *id == ids[i]) {
            strokes[i] = *s;
            continue;
        }
        let dashed = model_dashed(&ids[i]);
        let free = |c: &&RGBColor| {
            !taken
                .iter()
                .any(|(_, t)| t.colour == **c && t.dashed == dashed)
        };
        let options = &candidates[i].0;
        let colour = options
            .iter()
            .find(free)
            .or(options.first())
            .copied()
            .unwrap_or(PALETTE[0]);
        let s = Stroke { colour, dashed };
        taken.push((&ids[i], s));
        strokes[i] = s;
    }
    strokes
}

/// The colour of each series of one chart ([`series_strokes`] without the dash).
pub fn series_colours<S: AsRef<str>>(labels: &[S]) -> Vec<RGBColor> {
    series_strokes(labels)
        .into_iter()
        .map(|s| s.colour)
        .collect()
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

    /// A line of width 2 stroked as `stroke` says (colour, dashed for a deep model) with
    /// `marker` on its points.
    pub fn stroked(stroke: Stroke, marker: Marker) -> Look {
        Look {
            dashed: stroke.dashed,
            ..Look::line(stroke.colour, marker)
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

    /// The lab's compare chart's labels.
    const LAB: [&str; 5] = [
        "shallow normal",
        "shallow xavier-uniform",
        "shallow kaiming-normal",
        "deep xavier-uniform",
        "deep sigmoid dbn",
    ];

    /// What `of` gives the series among `labels` that is `which` ([`identity`]), if any.
    fn of_label<T: Copy>(
        labels: &[&str],
        which: &str,
        of: impl Fn(&[&str]) -> Vec<T>,
    ) -> Option<T> {
        let at = labels.iter().position(|l| identity(l) == identity(which));
        at.map(|i| of(labels)[i])
    }

    #[test]
    fn a_series_keeps_its_colour_whatever_else_is_drawn() {
        let lab = LAB;
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
        let colour_in =
            |labels: &[&str], which: &str| of_label(labels, which, |l| series_colours(l));
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
        // Looks differ within a chart; a scheme keeps its colour whatever the model (N(0,1) is
        // blue, shallow and deep), and the model shows in the dash.
        let strokes = series_strokes(&study);
        for (i, a) in strokes.iter().enumerate() {
            assert!(!strokes[..i].contains(a), "{} shares a look", study[i]);
        }
        assert_eq!(strokes[0].colour, PALETTE[0]);
        assert_eq!(strokes[5].colour, PALETTE[0]);
        assert!(!strokes[0].dashed && strokes[5].dashed);
        // Glorot & Bengio's names: the standard init in glorot-standard's colour, the normalized
        // one in Xavier's, a shade per activation; stable under reordering, distinct.
        let glorot = [
            "tanh standard",
            "tanh normalized",
            "softsign standard",
            "softsign normalized",
            "sigmoid standard",
            "sigmoid normalized",
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
        let standard = init_colour("glorot-standard");
        let normalized = init_colour("xavier-uniform");
        assert!(glorot
            .iter()
            .zip(&colours)
            .any(|(l, c)| l.ends_with("standard") && Some(*c) == standard));
        assert!(glorot
            .iter()
            .zip(&colours)
            .any(|(l, c)| l.ends_with("normalized") && Some(*c) == normalized));
    }

    #[test]
    fn layers_take_the_palette_in_order_and_guides_grey() {
        // Layers by depth; beyond the palette, its darker shades in the same order.
        assert_eq!(
            series_colours(&["layer 3 (std 0.1)", "layer 1"]),
            vec![PALETTE[2], PALETTE[0]]
        );
        let layers: Vec<String> = (1..=20).map(|k| format!("layer {k}")).collect();
        let colours = series_colours(&layers);
        assert_eq!(colours[1], PALETTE[1]);
        assert_eq!(colours[14], shade(PALETTE[1], 1));
        // The dynamics charts' `linearK` are layers too.
        assert_eq!(
            series_colours(&["linear2", "linear1"]),
            vec![PALETTE[1], PALETTE[0]]
        );
        assert_eq!(series_colours(&["linear1", "10⁻³ guide"])[1], GUIDE);
        assert!(!PALETTE.contains(&GUIDE));
    }

    /// Euclidean distance of two colours in RGB.
    fn distance(a: RGBColor, b: RGBColor) -> f64 {
        let d = |x: u8, y: u8| (x as f64 - y as f64).powi(2);
        (d(a.0, b.0) + d(a.1, b.1) + d(a.2, b.2)).sqrt()
    }

    #[test]
    fn every_init_has_its_own_colour_under_every_name() {
        use crate::base::nn::scheme::InitScheme;
        let mut seen: Vec<(&str, RGBColor)> = Vec::new();
        for init in InitScheme::ALL {
            let c = init_colour(init.name());
            let Some(c) = c else {
                panic!("{} has no colour", init.name());
            };
            if let Some((other, _)) = seen.iter().find(|(_, o)| *o == c) {
                panic!("{} and {other} share a colour", init.name());
            }
            seen.push((init.name(), c));
            // Aliases and the full name (`mean-field-w1.76-b0.05`) keep the colour.
            for alias in init.aliases() {
                if let Some(a) = init_colour(alias) {
                    assert_eq!(a, c, "{alias}");
                }
            }
            assert_eq!(init_colour(&init.to_string()), Some(c), "{init}");
            assert_eq!(init_colour(&init.name().to_uppercase()), Some(c));
        }
        assert_eq!(init_colour("he"), init_colour("kaiming-normal"));
        assert_eq!(init_colour("N(0,1)"), init_colour("normal"));
        assert_eq!(init_colour("sigmoid"), None);
        // The inits charts set side by side stay far apart, the DBN farthest from the others.
        let main = [
            "normal",
            "torch-default",
            "xavier-uniform",
            "kaiming-normal",
            "lsuv",
            "glorot-standard",
            "dbn",
        ]
        .map(|n| init_colour(n).unwrap_or(RGBColor(255, 255, 255)));
        for (i, a) in main.iter().enumerate() {
            for b in &main[..i] {
                assert!(distance(*a, *b) > 60.0, "{a:?} vs {b:?}");
            }
        }
        for other in &main[..6] {
            assert!(distance(main[6], *other) > 150.0, "the DBN near {other:?}");
        }
    }

    #[test]
    fn an_init_looks_the_same_in_every_kind_of_chart() {
        // The lab's compare chart, study lab's chart, a compare over seeds (report.html's
        // labels), inspect's depth chart.
        let lab = LAB;
        let study = ["shallow xavier-uniform", "deep xavier-uniform", "deep lsuv"];
        let compare = ["xavier-uniform (mean of 3 seeds)", "normal (3 unstable)"];
        let inspect = [
            "normal",
            "glorot-standard",
            "xavier-uniform",
            "kaiming-normal",
        ];
        let look = |labels: &[&str], which: &str| of_label(labels, which, |l| series_strokes(l));
        let xavier = init_colour("xavier-uniform");
        for (labels, which) in [
            (&lab[..], "shallow xavier-uniform"),
            (&lab[..], "deep xavier-uniform"),
            (&study[..], "deep xavier-uniform"),
            (&compare[..], "xavier-uniform"),
            (&inspect[..], "xavier-uniform"),
        ] {
            assert_eq!(look(labels, which).map(|s| s.colour), xavier, "{which}");
            assert_eq!(
                look(labels, which).map(|s| s.dashed),
                Some(model_dashed(which))
            );
        }
        // Shallow and deep Xavier: one colour, solid and dashed; the DBN apart from both.
        let strokes = series_strokes(&lab);
        assert_eq!(strokes[1].colour, strokes[3].colour);
        assert!(!strokes[1].dashed && strokes[3].dashed);
        assert_eq!(Some(strokes[4].colour), init_colour("dbn"));
        assert!(strokes[4].dashed);
    }
}
