//! Any bytes as a response head: parsing never panics, and what it reports is consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uptask_proto::http1::{MAX_HEAD_BYTES, header_map, parse_response_head};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((head, used))) = parse_response_head(data) {
        assert!(used <= data.len() && used <= MAX_HEAD_BYTES);
        let map = header_map(&head);
        assert!(
            map.keys()
                .all(|k| k.bytes().all(|b| !b.is_ascii_uppercase()))
        );
        let _ = head.framing("POST");
        let _ = head.framing("HEAD");
    }
});
