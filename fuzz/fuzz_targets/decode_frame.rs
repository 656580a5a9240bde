//! Feeds arbitrary bytes to the wire decoders: `decode_frame` must answer with a message or a
//! typed error, never a panic, and whatever decodes must survive a re-encode unchanged. The
//! same bytes, when they are UTF-8, go through the JSON decoder under the same rules.

#![no_main]

use l2pay::wire::{decode_frame, encode_frame, from_json, to_json, Message, MAX_FRAME};
use l2pay::Error;
use libfuzzer_sys::fuzz_target;

fn round_trips(m: &Message) {
    let frame = encode_frame(m).expect("a decoded message re-encodes");
    assert!(frame.len() <= MAX_FRAME);
    let again: Message = decode_frame(&frame).expect("a re-encoded frame decodes");
    assert_eq!(&again, m, "decode(encode(x)) != x");
    let json = to_json(m);
    let again: Message = from_json(&json).expect("the JSON form decodes");
    assert_eq!(&again, m, "from_json(to_json(x)) != x");
}

fn expected(e: &Error) -> bool {
    matches!(
        e,
        Error::Decode(_) | Error::UnsupportedVersion(_) | Error::FrameTooLarge { .. }
    )
}

fuzz_target!(|data: &[u8]| {
    match decode_frame::<Message>(data) {
        Ok(m) => round_trips(&m),
        Err(e) => assert!(
            expected(&e),
            "unexpected error kind from decode_frame: {e:?}"
        ),
    }
    if let Ok(s) = std::str::from_utf8(data) {
        match from_json::<Message>(s) {
            Ok(m) => round_trips(&m),
            Err(e) => assert!(expected(&e), "unexpected error kind from from_json: {e:?}"),
        }
    }
});
