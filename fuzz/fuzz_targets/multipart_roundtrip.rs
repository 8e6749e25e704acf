//! Any fields, names and file contents: encode with uptask, parse with multer, compare.
//!
//! The input is split at 0xFF bytes: field name, file name, then key/value pairs, and the last
//! piece is the file's contents.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uptask_proto::multipart::{Boundary, FilePart, MultipartBody, Piece, escape_quoted};

fuzz_target!(|data: &[u8]| {
    let pieces: Vec<&[u8]> = data.split(|&b| b == 0xFF).collect();
    if pieces.len() < 3 {
        return;
    }
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let field = text(pieces[0]);
    let file_name = text(pieces[1]);
    let content = pieces[pieces.len() - 1];
    let fields: Vec<(String, String)> = pieces[2..pieces.len() - 1]
        .chunks(2)
        .map(|kv| {
            (
                text(kv[0]),
                text(kv.get(1).copied().unwrap_or_default()).replace(['\r', '\n'], " "),
            )
        })
        .collect();
    if field.is_empty() || fields.iter().any(|(k, _)| k.is_empty()) {
        return;
    }
    let boundary = Boundary::from_random([7; 16]);
    // A fixed boundary can appear in the data; real uploads use a random one.
    if data
        .windows(boundary.as_str().len())
        .any(|w| w == boundary.as_str().as_bytes())
    {
        return;
    }
    let body = MultipartBody::new(
        boundary.clone(),
        &fields,
        &FilePart::new(&field, &file_name, content.len() as u64),
    );
    let mut wire = Vec::new();
    for piece in body.pieces_from(0) {
        match piece {
            Piece::Bytes(b) => wire.extend_from_slice(b),
            Piece::File { offset, len, .. } => {
                wire.extend_from_slice(&content[offset as usize..(offset + len) as usize])
            }
            _ => unreachable!(),
        }
    }
    assert_eq!(wire.len() as u64, body.len());

    let stream =
        futures_util::stream::once(
            async move { Ok::<_, std::io::Error>(bytes::Bytes::from(wire)) },
        );
    let mut mp = multer::Multipart::new(stream, boundary.as_str());
    let parsed = futures_executor::block_on(async {
        let mut got_fields = Vec::new();
        let mut got_file = None;
        while let Some(f) = mp.next_field().await.expect("our own body must parse") {
            let name = f.name().unwrap_or_default().to_owned();
            match f.file_name().map(str::to_owned) {
                Some(fname) => {
                    got_file = Some((name, fname, f.bytes().await.expect("file bytes").to_vec()))
                }
                None => got_fields.push((name, f.text().await.expect("field text"))),
            }
        }
        (got_fields, got_file)
    });
    let want: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (escape_quoted(k), v.clone()))
        .collect();
    assert_eq!(parsed.0, want);
    let (pf, pn, pc) = parsed.1.expect("the file part");
    assert_eq!(pf, escape_quoted(&field));
    assert_eq!(pn, escape_quoted(&file_name));
    assert_eq!(pc, content);
});
