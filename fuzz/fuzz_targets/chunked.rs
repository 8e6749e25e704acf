//! Any bytes as a chunked body, fed in two pieces: never panics, never invents bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uptask_proto::http1::ChunkedDecoder;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).min(body.len());
    let mut dec = ChunkedDecoder::new();
    let mut out = Vec::new();
    let mut used = 0;
    for piece in [&body[..cut], &body[cut..]] {
        if dec.is_done() {
            break;
        }
        match dec.feed(piece, &mut out) {
            Ok(n) => {
                assert!(n <= piece.len());
                used += n;
            }
            Err(_) => return,
        }
    }
    assert!(used <= body.len());
    assert!(out.len() <= used);
});
