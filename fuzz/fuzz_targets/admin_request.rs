//! The `admin.sock` request envelope: arbitrary bytes, as an unprivileged local user can
//! send them, through the same `serde_json::from_slice::<Envelope>` the daemon runs.
//!
//! Nothing may panic or overflow the stack, however deeply the JSON nests, and an accepted
//! envelope must survive a serialise/parse round trip unchanged.

#![no_main]

use apitoken_wire::admin::{frame_len, Envelope, Request, MAX_FRAME};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(prefix) = data.get(..4) {
        let prefix: [u8; 4] = prefix.try_into().unwrap();
        let declared = u32::from_be_bytes(prefix) as usize;
        assert_eq!(frame_len(prefix).is_ok(), declared <= MAX_FRAME);
    }

    let Ok(env) = serde_json::from_slice::<Envelope>(data) else {
        return;
    };
    let text = serde_json::to_vec(&env).expect("an accepted envelope serialises");
    let back: Envelope = serde_json::from_slice(&text).unwrap_or_else(|e| {
        panic!(
            "re-serialised envelope refused: {e}: {}",
            String::from_utf8_lossy(&text)
        )
    });
    assert_eq!(
        serde_json::to_vec(&back).unwrap(),
        text,
        "round trip changed the envelope"
    );

    // The one secret a request can carry is never shown by `Debug`.
    if let Request::Verify { token, .. } = &env.request {
        assert_eq!(format!("{token:?}"), "<redacted>");
    }
});
