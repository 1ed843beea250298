//! The `check.sock` wire format (`apitoken_wire::check`), which the PAM module also links.
//!
//! Every input is tried as a frame length prefix, as a request body and as a reply body.
//! Nothing may panic, and every body that decodes must re-encode to exactly its bytes:
//! the format has one encoding per message, so the daemon and the PAM module can never
//! disagree about what a frame meant.

#![no_main]

use apitoken_wire::check::{
    frame_len, read_frame, write_frame, CheckReply, CheckRequest, MAX_FRAME, VERSION,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(prefix) = data.get(..4) {
        let prefix: [u8; 4] = prefix.try_into().unwrap();
        let declared = u32::from_be_bytes(prefix) as usize;
        match frame_len(prefix) {
            Ok(len) => assert!(len == declared && len <= MAX_FRAME),
            Err(_) => assert!(declared > MAX_FRAME),
        }
        // The same bytes as a stream: a frame is read only when it is whole and in bounds.
        match read_frame(&mut &data[..]) {
            Ok(body) => assert_eq!(&body[..], &data[4..4 + declared]),
            Err(_) => assert!(declared > MAX_FRAME || data.len() - 4 < declared),
        }
    }

    if let Ok(req) = CheckRequest::decode(data) {
        assert_eq!(data[0], VERSION);
        assert_eq!(req.via as u8, data[1]);
        let again = req.encode().expect("a decoded request encodes");
        assert_eq!(
            again, data,
            "request re-encodes to different bytes: {req:?}"
        );
        if data.len() <= MAX_FRAME {
            let mut framed = Vec::new();
            write_frame(&mut framed, &again).expect("frame within the limit");
            assert_eq!(&read_frame(&mut &framed[..]).unwrap()[..], data);
        }
    }

    if let Ok(reply) = CheckReply::decode(data) {
        assert_eq!(data[0], VERSION);
        let again = reply.encode().expect("a decoded reply encodes");
        assert_eq!(
            again, data,
            "reply re-encodes to different bytes: {reply:?}"
        );
        assert_eq!(CheckReply::decode(&again).unwrap(), reply);
    }
});
