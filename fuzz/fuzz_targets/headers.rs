//! Any header name and value: what validation accepts can never add a line to the request head.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uptask_proto::http1::RequestHead;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (name, value) = text.split_once('\u{0}').unwrap_or((&text, ""));
    let mut head = RequestHead::new("POST", "/upload");
    if head.header(name, value).is_ok() {
        let bytes = head.encode();
        // request line + one header line + the blank line
        let lines = bytes.windows(2).filter(|w| w == b"\r\n").count();
        assert_eq!(lines, 3, "{name:?}: {value:?}");
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 3);
        assert_eq!(bytes.iter().filter(|&&b| b == b'\r').count(), 3);
    }
});
