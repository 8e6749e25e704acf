//! Any tus header value a server (or client) might send: parsing never panics, and what parses
//! as metadata encodes back to an equal list.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uptask_proto::tus::{
    Capabilities, Concat, decode_metadata, encode_metadata, parse_checksum, parse_offset,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_offset("upload-offset", Some(&text));
    let _ = parse_checksum(&text);
    if let Ok(c) = Concat::parse(&text) {
        assert_eq!(Concat::parse(&c.header_value()), Ok(c));
    }
    let caps = Capabilities::from_headers(|_| Some(&text));
    let _ = caps.checksum();
    if let Ok(pairs) = decode_metadata(&text) {
        // Values that are UTF-8 survive a round trip; keys are as the decoder found them.
        if let Ok(strings) = pairs
            .iter()
            .map(|(k, v)| String::from_utf8(v.clone()).map(|v| (k.clone(), v)))
            .collect::<Result<Vec<_>, _>>()
            && let Ok(encoded) = encode_metadata(&strings)
        {
            assert_eq!(decode_metadata(&encoded).ok(), Some(pairs));
        }
    }
});
