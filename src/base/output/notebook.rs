//! Rich output for the lab's Rust notebooks (`notebooks/*.ipynb`, the evcxr Jupyter kernel).
//!
//! evcxr turns a block of a cell's standard output of the form
//!
//! ```text
//! EVCXR_BEGIN_CONTENT image/png
//! <the bytes in base64>
//! EVCXR_END_CONTENT
//! ```
//!
//! into a Jupyter `display_data` message of that MIME type, so the notebook shows the picture
//! instead of the text (evcxr's documented display protocol, the one its `evcxr_display` methods
//! use). The library never prints: [`evcxr_content`] returns the block and the notebook cell
//! prints it.

/// The block that makes evcxr show `bytes` as `mime` (for example `image/png`): the bytes in
/// standard base64 ([`base64`]) on one line between evcxr's begin and end markers, to be printed
/// with `println!` (the markers must each start a line).
pub fn evcxr_content(mime: &str, bytes: &[u8]) -> String {
    format!(
        "EVCXR_BEGIN_CONTENT {mime}\n{}\nEVCXR_END_CONTENT",
        base64(bytes)
    )
}

/// `bytes` in the standard base64 alphabet of RFC 4648 §4 (`A–Z a–z 0–9 + /`), padded with `=`
/// to a multiple of four characters, on one line — what Jupyter expects of binary MIME data.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        // Up to three bytes as one 24-bit group, missing bytes as zeros.
        let group = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        // A chunk of n bytes fills n + 1 six-bit digits; the rest of the four are padding.
        for digit in 0..4 {
            if digit <= chunk.len() {
                let index = (group >> (18 - 6 * digit)) & 0x3f;
                out.push(char::from(ALPHABET[index as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_4648_test_vectors() {
        // RFC 4648 §10.
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain:?}");
        }
    }

    #[test]
    fn base64_uses_the_standard_alphabet_for_high_bytes() {
        // 0xfb 0xff 0xbf: every six-bit digit is 62 or 63 ('+', '/'), not the URL-safe '-', '_'.
        assert_eq!(base64(&[0xfb, 0xff, 0xbf]), "+/+/");
        assert_eq!(base64(&[0x00, 0x10, 0x83]), "ABCD");
    }

    #[test]
    fn content_block_has_evcxr_markers_around_one_base64_line() {
        let block = evcxr_content("image/png", &[0x89, b'P', b'N', b'G']);
        let lines: Vec<&str> = block.lines().collect();
        assert_eq!(
            lines,
            [
                "EVCXR_BEGIN_CONTENT image/png",
                "iVBORw==",
                "EVCXR_END_CONTENT"
            ]
        );
    }
}
